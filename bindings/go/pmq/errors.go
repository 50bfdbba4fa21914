package pmq

// #include "shim.h"
import "C"

import (
	"errors"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// Status is libpmq's status code (enum pmq_status). 0 is success.
type Status int

// The status codes of pmq.h. Values are never renumbered.
const (
	StatusOK              Status = C.PMQ_STATUS_OK
	StatusWouldBlock      Status = C.PMQ_STATUS_WOULD_BLOCK
	StatusTimedOut        Status = C.PMQ_STATUS_TIMED_OUT
	StatusBusy            Status = C.PMQ_STATUS_BUSY
	StatusExists          Status = C.PMQ_STATUS_EXISTS
	StatusNotFound        Status = C.PMQ_STATUS_NOT_FOUND
	StatusPermission      Status = C.PMQ_STATUS_PERMISSION
	StatusInterrupted     Status = C.PMQ_STATUS_INTERRUPTED
	StatusInvalidArgument Status = C.PMQ_STATUS_INVALID_ARGUMENT
	StatusMessageTooLarge Status = C.PMQ_STATUS_MESSAGE_TOO_LARGE
	StatusBufferTooSmall  Status = C.PMQ_STATUS_BUFFER_TOO_SMALL
	StatusSystemLimit     Status = C.PMQ_STATUS_SYSTEM_LIMIT
	StatusClosed          Status = C.PMQ_STATUS_CLOSED
	StatusOutOfMemory     Status = C.PMQ_STATUS_OUT_OF_MEMORY
	StatusOSError         Status = C.PMQ_STATUS_OS_ERROR
	StatusPanic           Status = C.PMQ_STATUS_PANIC
	StatusNotSupported    Status = C.PMQ_STATUS_NOT_SUPPORTED
	StatusCorrupted       Status = C.PMQ_STATUS_CORRUPTED
	StatusLeaseLost       Status = C.PMQ_STATUS_LEASE_LOST
)

// String returns the status's name, e.g. "PMQ_STATUS_TIMED_OUT".
func (s Status) String() string { return C.GoString(C.pmq_status_name(C.int(s))) }

// Text returns what the status means (pmq_status_str).
func (s Status) Text() string { return C.GoString(C.pmq_status_str(C.int(s))) }

// isBusy reports whether libpmq counts the status as the reference's
// BusyError (pmq_status_is_busy).
func (s Status) isBusy() bool { return bool(C.pmq_status_is_busy(C.int(s))) }

// lastStatus is the highest status the linked libpmq defines
// (pmq_status_last), which may be newer than this package.
func lastStatus() Status { return Status(C.pmq_status_last()) }

// Sentinel errors, one per status, for errors.Is. Every error this package
// returns for a pmq failure is an *Error that matches exactly one of them.
var (
	ErrWouldBlock      = errors.New("pmq: the operation would block (queue full or empty)")
	ErrTimeout         = errors.New("pmq: timed out")
	ErrBusy            = errors.New("pmq: busy (held by another process)")
	ErrExist           = errors.New("pmq: queue already exists")
	ErrNotExist        = errors.New("pmq: queue does not exist")
	ErrPermission      = errors.New("pmq: permission denied")
	ErrInterrupted     = errors.New("pmq: interrupted by a signal")
	ErrInvalid         = errors.New("pmq: invalid argument")
	ErrMessageTooLarge = errors.New("pmq: message too large")
	ErrBufferTooSmall  = errors.New("pmq: buffer too small")
	ErrLimit           = errors.New("pmq: system limit reached")
	ErrClosed          = errors.New("pmq: queue closed")
	ErrOutOfMemory     = errors.New("pmq: out of memory")
	ErrOS              = errors.New("pmq: operating-system error")
	ErrPanic           = errors.New("pmq: internal error (panic caught)")
	ErrNotSupported    = errors.New("pmq: not supported on this system")
	// ErrCorrupted: a shared-memory queue's file is damaged (scribbled on,
	// truncated or punched while mapped) or from another layout. A damaged
	// file gives this error, never a signal: libpmq installs a SIGBUS
	// handler for its mappings and passes other faults on to the handler
	// installed before it (Go's runtime, signal.Notify included, keeps
	// working). Whoever the file's mode lets write is trusted: until layout
	// 3 such a process can still crash the others through the lock's
	// robust-list words (pmq.h, PMQ_STATUS_CORRUPTED).
	ErrCorrupted = errors.New("pmq: queue state corrupted or from an incompatible build")
	// ErrLeaseLost: a lease given to Ack or Nack is no longer this
	// Queue's: acked or nacked already, its visibility timeout passed (the
	// message went back to the queue and may have been delivered again),
	// or it never was this Queue's. Nothing was changed.
	ErrLeaseLost = errors.New("pmq: lease lost (acked already, expired, or not this handle's)")
	ErrUnknown   = errors.New("pmq: unknown status")
)

var sentinels = map[Status]error{
	StatusWouldBlock:      ErrWouldBlock,
	StatusTimedOut:        ErrTimeout,
	StatusBusy:            ErrBusy,
	StatusExists:          ErrExist,
	StatusNotFound:        ErrNotExist,
	StatusPermission:      ErrPermission,
	StatusInterrupted:     ErrInterrupted,
	StatusInvalidArgument: ErrInvalid,
	StatusMessageTooLarge: ErrMessageTooLarge,
	StatusBufferTooSmall:  ErrBufferTooSmall,
	StatusSystemLimit:     ErrLimit,
	StatusClosed:          ErrClosed,
	StatusOutOfMemory:     ErrOutOfMemory,
	StatusOSError:         ErrOS,
	StatusPanic:           ErrPanic,
	StatusNotSupported:    ErrNotSupported,
	StatusCorrupted:       ErrCorrupted,
	StatusLeaseLost:       ErrLeaseLost,
}

// Sentinel returns the sentinel error for a status (ErrUnknown for a value
// this package does not know, nil for StatusOK).
func (s Status) Sentinel() error {
	if s == StatusOK {
		return nil
	}
	if e, ok := sentinels[s]; ok {
		return e
	}
	return ErrUnknown
}

// Error is a failed pmq call: which operation, on which queue, the status,
// the errno behind it (0 if pmq found the problem itself) and libpmq's
// detail, which says what was wrong and how to fix it. The detail is the
// one recorded by this very call, even when goroutines move between threads.
//
// errors.Is(err, ErrX) matches the status's sentinel; it also matches
// fs.ErrExist, fs.ErrNotExist, fs.ErrPermission, fs.ErrClosed and
// os.ErrDeadlineExceeded where they fit, and the syscall.Errno.
type Error struct {
	Op     string        // "open", "send", "receive", ...
	Queue  string        // the queue's name ("" when not known)
	Status Status        // libpmq's status code
	Errno  syscall.Errno // the OS error behind it, or 0
	Needed int           // for StatusBufferTooSmall: the buffer size needed
	Detail string        // libpmq's (or this package's) explanation
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("pmq: ")
	b.WriteString(e.Op)
	if e.Queue != "" {
		b.WriteString(" ")
		b.WriteString(e.Queue)
	}
	b.WriteString(": ")
	if e.Detail != "" {
		b.WriteString(e.Detail)
	} else {
		b.WriteString(e.Status.Text())
	}
	b.WriteString(" (")
	b.WriteString(e.Status.String())
	b.WriteString(")")
	return b.String()
}

// Unwrap gives the status's sentinel and, if set, the errno.
func (e *Error) Unwrap() []error {
	errs := []error{e.Status.Sentinel()}
	if e.Errno != 0 {
		errs = append(errs, e.Errno)
	}
	return errs
}

// Is matches the io/fs and os sentinels that mean the same thing.
func (e *Error) Is(target error) bool {
	switch target {
	case fs.ErrExist:
		return e.Status == StatusExists
	case fs.ErrNotExist:
		return e.Status == StatusNotFound
	case fs.ErrPermission:
		return e.Status == StatusPermission
	case fs.ErrClosed:
		return e.Status == StatusClosed
	case os.ErrDeadlineExceeded:
		return e.Status == StatusTimedOut
	}
	return false
}

// Timeout reports whether the error is a timeout (net.Error style).
func (e *Error) Timeout() bool { return e.Status == StatusTimedOut }

// IsBusy reports whether err is one of the statuses the reference
// (posix_ipc) reports as BusyError: would block, timed out, or busy.
func IsBusy(err error) bool {
	for _, sentinel := range busySentinels {
		if errors.Is(err, sentinel) {
			return true
		}
	}
	return false
}

// busySentinels are the sentinels of the statuses libpmq itself counts as
// busy (pmq_status_is_busy: ErrWouldBlock, ErrTimeout, ErrBusy), so IsBusy
// needs no list of its own.
var busySentinels = func() []error {
	var out []error
	for s := StatusOK + 1; s <= lastStatus(); s++ {
		if e := s.Sentinel(); s.isBusy() && e != ErrUnknown {
			out = append(out, e)
		}
	}
	return out
}()

// Reading a failure's detail on the right thread.
//
// libpmq records a failure's detail, errno and needed size per OS thread,
// and a goroutine may move to another OS thread between two cgo calls. So
// every libpmq call that can fail runs with its goroutine locked to its OS
// thread (runtime.LockOSThread), and a failure's detail is read
// (lastFailure, one more cgo call) before the lock is released.
//
// Why not read it inside the failing call's own cgo call, as this package
// once did: the text needs a buffer. A Go buffer passed to C escapes to the
// heap (an allocation per send, successful or not); a buffer inside the
// by-value result is copied on every call (a 512-byte result slowed every
// cgo call by more than a whole send costs); a copy malloc'd in C costs a
// malloc, a free and a second cgo call per failure, would-blocks included.
// LockOSThread and UnlockOSThread cost a few ns (within the noise of a cgo
// call), and the goroutine stays pinned only for the call and the read,
// never while it waits. A goroutine the caller locked itself stays locked (the
// locks nest).

// call runs f, one libpmq call, with the goroutine locked to its OS thread
// and turns a failure into an *Error read on that thread.
func call(op, queue string, f func() C.pmq_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if st := f(); st != C.PMQ_STATUS_OK {
		return lastFailure(op, queue, C.int(st))
	}
	return nil
}

// lastFailure is the *Error for the status st that the last libpmq call on
// this OS thread returned, with libpmq's detail, errno and needed size.
// Call it only on the thread of that call (see call).
func lastFailure(op, queue string, st C.int) *Error {
	err := &Error{Op: op, Queue: queue, Status: Status(st)}
	buf := make([]byte, 256)
	f := C.gopmq_last_failure(st, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if f.has_detail == 0 {
		return err
	}
	if n := int(f.detail_len); n >= len(buf) {
		// Cut to fit: the same detail again, whole (nothing failed since).
		buf = make([]byte, n+1)
		f = C.gopmq_last_failure(st, (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	}
	if n := int(f.detail_len); n > 0 && n < len(buf) {
		err.Detail = unsafe.String(&buf[0], n) // buf is not used again
	}
	err.Errno = syscall.Errno(f.err_no)
	err.Needed = int(f.needed)
	return err
}

// isStatus reports whether err is an *Error with status st.
func isStatus(err error, st Status) bool {
	e, ok := err.(*Error)
	return ok && e.Status == st
}

// goError is an error this package detects itself.
func goError(op, queue string, st Status, detail string) *Error {
	return &Error{Op: op, Queue: queue, Status: st, Detail: detail}
}
