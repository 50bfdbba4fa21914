package pmq

// #include "shim.h"
import "C"

import (
	"context"
	"runtime"
	"time"
	"unsafe"
)

// Message is one message of a batch send (SendBatch): Data with Priority
// (0..PriorityMax; higher is received first).
type Message struct {
	Data     []byte
	Priority uint
}

// Received says where ReceiveBatch put one message: buf[Offset:Offset+Len],
// with its priority.
type Received struct {
	Offset, Len int
	Priority    uint
}

// The shim writes Received values in place as C.gopmq_received: the two
// must have the same layout (a mismatch does not compile: a constant
// uintptr cannot be negative).
const (
	_ = unsafe.Sizeof(Received{}) - unsafe.Sizeof(C.gopmq_received{})
	_ = unsafe.Sizeof(C.gopmq_received{}) - unsafe.Sizeof(Received{})
	_ = unsafe.Offsetof(Received{}.Len) - unsafe.Offsetof(C.gopmq_received{}.len)
	_ = unsafe.Offsetof(C.gopmq_received{}.len) - unsafe.Offsetof(Received{}.Len)
	_ = unsafe.Offsetof(Received{}.Priority) - unsafe.Offsetof(C.gopmq_received{}.priority)
	_ = unsafe.Offsetof(C.gopmq_received{}.priority) - unsafe.Offsetof(Received{}.Priority)
)

// How a batch reaches C without breaking the cgo pointer rules: libpmq takes
// an array of pmq_message, each with a pointer to its bytes. Go memory
// passed to C may contain Go pointers only if they are pinned
// (runtime.Pinner). Pin+Unpin costs about 35 ns per message, plus about
// 100 ns and a heap allocation per batch that pins more than five (the
// Pinner's inline room), measured with Go 1.26 on the test machine; copying
// costs about 3 ns per 16-byte message and 20 ns per KiB. So each message
// takes the cheaper way:
//
//   - shorter than pinFrom (2 KiB): its bytes are copied, with those of the
//     other short ones, one after another into one pointer-free buffer;
//   - pinFrom bytes or more: its bytes are pinned and their address goes in
//     ptrs (nil for the copied ones), so a batch of large messages is not
//     copied twice (here and into the queue).
//
// Lengths and priorities go in two pointer-free arrays. The C shim builds
// the pmq_message array on its stack. A batch of small messages therefore
// pins nothing and, with the buffers the Queue keeps for its next batch (one
// set, taken and given back with atomic swaps; a concurrent batch makes its
// own), allocates nothing.
type sendScratch struct {
	data   []byte           // the short messages, one after another
	lens   []C.size_t       // every message's length
	prios  []C.uint32_t     // every message's priority (clamped, see cPriority)
	ptrs   []unsafe.Pointer // a long message's pinned bytes; nil: in data
	pin    runtime.Pinner
	pinned bool
}

// Messages of at least this many bytes are pinned rather than copied.
const pinFrom = 2048

// Batches larger than this (bytes, or messages) do not keep their buffers.
const (
	maxKeptBatchBytes    = 1 << 20
	maxKeptBatchMessages = 4096
)

// batchScratch prepares msgs in the Queue's kept buffers (or new ones).
// Every batchScratch is followed by one keepScratch (which unpins).
func (q *Queue) batchScratch(msgs []Message) *sendScratch {
	s := q.scratch.Swap(nil)
	if s == nil {
		s = new(sendScratch)
	}
	total := 0
	for i := range msgs {
		if n := len(msgs[i].Data); n < pinFrom {
			total += n
		}
	}
	if cap(s.data) < total {
		s.data = make([]byte, total)
	}
	if cap(s.lens) < len(msgs) {
		s.lens = make([]C.size_t, len(msgs))
		s.prios = make([]C.uint32_t, len(msgs))
		s.ptrs = make([]unsafe.Pointer, len(msgs))
	}
	s.data, s.lens, s.prios, s.ptrs = s.data[:total], s.lens[:len(msgs)], s.prios[:len(msgs)], s.ptrs[:len(msgs)]
	off := 0
	for i := range msgs {
		d := msgs[i].Data
		if len(d) < pinFrom {
			off += copy(s.data[off:], d)
			s.ptrs[i] = nil
		} else {
			p := unsafe.Pointer(unsafe.SliceData(d))
			s.pin.Pin(p)
			s.pinned = true
			s.ptrs[i] = p
		}
		s.lens[i] = C.size_t(len(d))
		s.prios[i] = cPriority(msgs[i].Priority)
	}
	return s
}

// keepScratch unpins the batch's long messages and gives the buffers back
// to the Queue (unless it kept others meanwhile, or they are large).
func (q *Queue) keepScratch(s *sendScratch) {
	if s.pinned {
		s.pin.Unpin()
		s.pinned = false
		clear(s.ptrs) // keeps no caller's message alive
	}
	if cap(s.data) > maxKeptBatchBytes || cap(s.lens) > maxKeptBatchMessages {
		return
	}
	q.scratch.CompareAndSwap(nil, s)
}

// sendBatchOnce makes one non-blocking batch send attempt (see sendOnce).
func (q *Queue) sendBatchOnce(s *sendScratch, retry bool) result {
	if !q.enter() {
		return result{}
	}
	var data *C.uint8_t
	var lens *C.size_t
	var prios *C.uint32_t
	var ptrs *unsafe.Pointer
	if len(s.data) > 0 {
		data = (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(s.data)))
	}
	if len(s.lens) > 0 {
		lens, prios, ptrs = unsafe.SliceData(s.lens), unsafe.SliceData(s.prios), unsafe.SliceData(s.ptrs)
	}
	runtime.LockOSThread()
	res := q.settle("send batch", C.gopmq_send_batch(q.h, data, lens, prios, ptrs, C.size_t(len(s.lens))), retry)
	runtime.UnlockOSThread()
	q.leave()
	return res
}

// receiveBatchOnce makes one non-blocking batch receive attempt.
func (q *Queue) receiveBatchOnce(buf []byte, out []Received, retry bool) result {
	if !q.enter() {
		return result{}
	}
	var p *C.uint8_t
	var o *C.gopmq_received
	if len(buf) > 0 {
		p = (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(buf)))
	}
	if len(out) > 0 {
		o = (*C.gopmq_received)(unsafe.Pointer(unsafe.SliceData(out)))
	}
	runtime.LockOSThread()
	res := q.settle("receive batch", C.gopmq_receive_batch(q.h, p, C.size_t(len(buf)), o, C.size_t(len(out))), retry)
	runtime.UnlockOSThread()
	q.leave()
	return res
}

// sendBatch: ctx may be nil; tryOnce means timeout 0; d > 0 a timeout.
func (q *Queue) sendBatch(ctx context.Context, d time.Duration, tryOnce bool, msgs []Message) (int, error) {
	s := q.batchScratch(msgs)
	defer q.keepScratch(s)
	res := q.sendBatchOnce(s, !tryOnce && q.blocking.Load())
	if res.ok() {
		return res.n, nil
	}
	n, _, err := q.wait(ctx, d, &attempt{q: q, write: true, batch: true, sb: s, res: res})
	return n, err
}

func (q *Queue) receiveBatch(ctx context.Context, d time.Duration, tryOnce bool, buf []byte,
	out []Received) (int, error) {
	res := q.receiveBatchOnce(buf, out, !tryOnce && q.blocking.Load())
	if res.ok() {
		return res.n, nil
	}
	n, _, err := q.wait(ctx, d, &attempt{q: q, batch: true, buf: buf, out: out, res: res})
	return n, err
}

// SendBatch sends several messages in one cgo call (sendmmsg style): it
// waits, as Send does, until the first can be sent, then sends, in order, as
// many more as fit now, and returns how many were sent (at least 1, unless
// msgs is empty). Send msgs[n:] again for the rest. Every message is checked
// before anything is sent: if one is invalid (too large, priority above
// PriorityMax), the error names its index and nothing is sent. On the
// shared-memory backend the batch takes the queue's lock once; on the
// kernel backend it is one mq_send per message, in one cgo call.
//
// C reads the messages only during the call (short ones are copied at its
// start, long ones pinned until it returns): msgs may be changed as soon as
// it returns.
func (q *Queue) SendBatch(msgs []Message) (int, error) {
	return q.sendBatch(nil, 0, false, msgs)
}

// SendBatchTimeout is SendBatch waiting at most d for the first message: 0
// tries once (ErrWouldBlock if the queue is full), a positive d returns
// ErrTimeout after it, Forever waits like SendBatch, a negative d is
// ErrInvalid.
func (q *Queue) SendBatchTimeout(msgs []Message, d time.Duration) (int, error) {
	if d < 0 {
		return 0, q.negativeTimeout("send batch", d)
	}
	return q.sendBatch(nil, d, d == 0, msgs)
}

// SendBatchContext is SendBatch that stops waiting for the first message
// when ctx ends, returning ctx.Err(). Nothing is sent then.
func (q *Queue) SendBatchContext(ctx context.Context, msgs []Message) (int, error) {
	return q.sendBatch(ctx, 0, false, msgs)
}

// ReceiveBatch takes several messages in one cgo call (recvmmsg style): it
// waits, as Receive does, until one is there, then takes, in queue order
// (highest priority first, FIFO within one), as many more as are there now,
// up to len(out) and while the next fits in what is left of buf. It returns
// how many it took (at least 1, unless out is empty); message i is
// buf[out[i].Offset:][:out[i].Len] with priority out[i].Priority.
//
// buf must hold at least MaxMessageSize bytes; otherwise ErrBufferTooSmall
// (with Error.Needed) is returned and nothing is taken. The shared-memory
// backend packs messages by their length (and takes the lock once); the
// kernel backend packs another message only where MaxMessageSize bytes are
// left, so a buffer of len(out)*MaxMessageSize bytes never limits it.
func (q *Queue) ReceiveBatch(buf []byte, out []Received) (int, error) {
	return q.receiveBatch(nil, 0, false, buf, out)
}

// ReceiveBatchTimeout is ReceiveBatch waiting at most d for the first
// message: 0 tries once (ErrWouldBlock if the queue is empty), a positive d
// returns ErrTimeout after it, Forever waits like ReceiveBatch, a negative d
// is ErrInvalid.
func (q *Queue) ReceiveBatchTimeout(buf []byte, out []Received, d time.Duration) (int, error) {
	if d < 0 {
		return 0, q.negativeTimeout("receive batch", d)
	}
	return q.receiveBatch(nil, d, d == 0, buf, out)
}

// ReceiveBatchContext is ReceiveBatch that stops waiting for the first
// message when ctx ends, returning ctx.Err(). Nothing is taken then.
func (q *Queue) ReceiveBatchContext(ctx context.Context, buf []byte, out []Received) (int, error) {
	return q.receiveBatch(ctx, 0, false, buf, out)
}
