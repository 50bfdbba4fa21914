package pmq

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/cgo"
	"strings"
	"sync"
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

	// Notification state: one cgo.Handle per Queue while a callback
	// registration may be live; deleted after cancel/close returns.
	nmu      sync.Mutex
	nhandle  cgo.Handle
	nchannel *notifyTarget
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
	var e C.gopmq_err
	var o C.pmq_options
	if st := C.gopmq_options_init(&o, &e); st != 0 {
		return nil, newError("open", display, st, &e)
	}
	for _, opt := range opts {
		opt(&o)
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
	if st := C.gopmq_open(cname, &o, &h, &e); st != 0 {
		return nil, newError("open", display, st, &e)
	}
	q := &Queue{h: h, drained: make(chan struct{}, 1), closing: make(chan struct{})}
	q.name = C.GoString(C.pmq_queue_name(h))
	q.blocking.Store(blocking)
	q.canRead, q.canWrite = bool(o.read), bool(o.write)
	if err := q.setup(); err != nil {
		q.rd.close()
		q.wr.close()
		C.gopmq_free(h)
		return nil, err
	}
	return q, nil
}

// setup reads the attributes back and makes the two epoll instances that
// waiting goroutines park on (wait.go).
func (q *Queue) setup() error {
	var e C.gopmq_err
	var a C.pmq_attributes
	if st := C.gopmq_attributes(q.h, &a, &e); st != 0 {
		return newError("open", q.name, st, &e)
	}
	q.maxMessages, q.maxMessageSize = int(a.max_messages), int(a.max_message_size)
	var mode C.uint32_t
	if st := C.gopmq_mode(q.h, &mode, &e); st != 0 {
		return newError("open", q.name, st, &e)
	}
	q.mode = os.FileMode(mode)
	var backend C.uint32_t
	if st := C.gopmq_backend(q.h, &backend, &e); st != 0 {
		return newError("open", q.name, st, &e)
	}
	q.backend = Backend(backend)
	var fd C.int
	if st := C.gopmq_fileno(q.h, &fd, &e); st != 0 {
		return newError("open", q.name, st, &e)
	}
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
	var e C.gopmq_err
	var a C.pmq_attributes
	st := C.gopmq_attributes(q.h, &a, &e)
	q.leave()
	if st != 0 {
		return Attributes{}, newError("attributes", q.name, st, &e)
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
	var e C.gopmq_err
	var fd C.int
	st := C.gopmq_fileno(q.h, &fd, &e)
	q.leave()
	if st != 0 {
		return -1, newError("fd", q.name, st, &e)
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
		var e C.gopmq_err
		var count C.size_t
		st := C.gopmq_dead_receipts(q.h, &raw[0], C.size_t(len(raw)), &count, &e)
		q.leave()
		if st == C.PMQ_STATUS_BUFFER_TOO_SMALL {
			C.free(unsafe.Pointer(e.detail))
			raw = make([]C.pmq_receipt, int(count)+4) // more may die meanwhile
			continue
		}
		if st != 0 {
			return nil, newError("dead receipts", q.name, st, &e)
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
	var e C.gopmq_err
	var needed C.size_t
	buf := make([]byte, 256)
	for range 2 {
		st := C.gopmq_describe(q.h, style, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &needed, &e)
		if st == 0 {
			return C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
		}
		err := newError("describe", q.name, st, &e)
		if err.Status != StatusBufferTooSmall {
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
	var e C.gopmq_err
	var err error
	if st := C.gopmq_close(q.h, &e); st != 0 {
		err = newError("close", q.name, st, &e)
	}
	// After close returns no notification callback runs or will run.
	C.gopmq_free(q.h)
	q.nmu.Lock()
	q.dropHandle()
	q.nmu.Unlock()
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
	var e C.gopmq_err
	st := C.gopmq_unlink(q.h, &e)
	q.leave()
	if st != 0 {
		return newError("unlink", q.name, st, &e)
	}
	return nil
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
	var e C.gopmq_err
	if st := C.gopmq_unlink_name(cname, &e); st != 0 {
		return newError("unlink", name, st, &e)
	}
	return nil
}

// UnlinkBackend removes the queue called name of backend b. A name with a
// NUL byte is ErrInvalid.
func UnlinkBackend(name string, b Backend) error {
	cname, err := cName("unlink", name)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cname))
	var e C.gopmq_err
	if st := C.gopmq_unlink_backend(cname, C.uint32_t(b), &e); st != 0 {
		return newError("unlink", name, st, &e)
	}
	return nil
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

// sendOnce makes one non-blocking send attempt; entered is false (and r
// empty) if the queue is closed.
func (q *Queue) sendOnce(msg []byte, prio uint) (r C.gopmq_io, entered bool) {
	if !q.enter() {
		return r, false
	}
	p := (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(msg)))
	if len(msg) == 0 {
		p = nil
	}
	r = C.gopmq_send(q.h, p, C.size_t(len(msg)), cPriority(prio))
	q.leave()
	return r, true
}

// receiveOnce makes one non-blocking receive attempt (see sendOnce).
func (q *Queue) receiveOnce(buf []byte) (r C.gopmq_io, entered bool) {
	if !q.enter() {
		return r, false
	}
	p := (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(buf)))
	if len(buf) == 0 {
		p = nil
	}
	r = C.gopmq_receive(q.h, p, C.size_t(len(buf)))
	q.leave()
	return r, true
}

// Send sends msg with priority prio (0..PriorityMax; higher is received
// first), waiting while the queue is full unless the queue is non-blocking
// (then ErrWouldBlock). Empty messages and zero bytes are fine.
func (q *Queue) Send(msg []byte, prio uint) error {
	r, entered := q.sendOnce(msg, prio)
	if entered && r.status == C.PMQ_STATUS_OK {
		return nil
	}
	_, _, err := q.wait(nil, 0, true, msg, prio, nil, r, entered)
	return err
}

// SendTimeout is Send waiting at most d: 0 tries once (ErrWouldBlock if the
// queue is full), a positive d returns ErrTimeout after it, Forever waits
// like Send, a negative d is ErrInvalid.
func (q *Queue) SendTimeout(msg []byte, prio uint, d time.Duration) error {
	if d < 0 {
		return q.negativeTimeout("send", d)
	}
	r, entered := q.sendOnce(msg, prio)
	if entered && r.status == C.PMQ_STATUS_OK {
		return nil
	}
	if d == 0 {
		_, _, err := q.outcome("send", &r, entered)
		return err
	}
	_, _, err := q.wait(nil, d, true, msg, prio, nil, r, entered)
	return err
}

// SendContext is Send that stops waiting when ctx ends, returning ctx.Err().
// Nothing is sent then.
func (q *Queue) SendContext(ctx context.Context, msg []byte, prio uint) error {
	r, entered := q.sendOnce(msg, prio)
	if entered && r.status == C.PMQ_STATUS_OK {
		return nil
	}
	_, _, err := q.wait(ctx, 0, true, msg, prio, nil, r, entered)
	return err
}

// Receive takes the oldest message of the highest priority into buf and
// returns its length and priority, waiting while the queue is empty unless
// the queue is non-blocking (then ErrWouldBlock). buf must hold at least
// MaxMessageSize bytes; otherwise ErrBufferTooSmall (with Error.Needed) is
// returned and no message is taken.
func (q *Queue) Receive(buf []byte) (n int, prio uint, err error) {
	r, entered := q.receiveOnce(buf)
	if entered && r.status == C.PMQ_STATUS_OK {
		return int(r.len), uint(r.prio), nil
	}
	return q.wait(nil, 0, false, nil, 0, buf, r, entered)
}

// ReceiveTimeout is Receive waiting at most d: 0 tries once (ErrWouldBlock
// if the queue is empty), a positive d returns ErrTimeout after it, Forever
// waits like Receive, a negative d is ErrInvalid.
func (q *Queue) ReceiveTimeout(buf []byte, d time.Duration) (n int, prio uint, err error) {
	if d < 0 {
		return 0, 0, q.negativeTimeout("receive", d)
	}
	r, entered := q.receiveOnce(buf)
	if entered && r.status == C.PMQ_STATUS_OK {
		return int(r.len), uint(r.prio), nil
	}
	if d == 0 {
		return q.outcome("receive", &r, entered)
	}
	return q.wait(nil, d, false, nil, 0, buf, r, entered)
}

// ReceiveContext is Receive that stops waiting when ctx ends, returning
// ctx.Err(). No message is taken then.
func (q *Queue) ReceiveContext(ctx context.Context, buf []byte) (n int, prio uint, err error) {
	r, entered := q.receiveOnce(buf)
	if entered && r.status == C.PMQ_STATUS_OK {
		return int(r.len), uint(r.prio), nil
	}
	return q.wait(ctx, 0, false, nil, 0, buf, r, entered)
}

// outcome turns an attempt into the call's results; a failure becomes an
// *Error carrying the attempt's detail (freed here).
func (q *Queue) outcome(op string, r *C.gopmq_io, entered bool) (int, uint, error) {
	if !entered {
		return 0, 0, q.closedError(op)
	}
	if r.status != C.PMQ_STATUS_OK {
		return 0, 0, newError(op, q.name, r.status, &r.err)
	}
	return int(r.len), uint(r.prio), nil
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
