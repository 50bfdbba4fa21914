// Package pmq is a Go binding of libpmq: POSIX named message queues (Linux
// mq_open, mq_send, ...) with errors that say what went wrong, and waiting
// that does not tie up OS threads.
//
// Module path: github.com/pmq-project/pmq/bindings/go/pmq (directory
// bindings/go/pmq of the pmq repository; package name pmq):
//
//	import "github.com/pmq-project/pmq/bindings/go/pmq"
//
// Releases are tagged bindings/go/pmq/vX.Y.Z (the tag of a module in a
// subdirectory), so
//
//	go get github.com/pmq-project/pmq/bindings/go/pmq@v0.2.0
//
// fetches a release like any other module (libpmq itself comes from
// `make install`: see Building).
//
// # Building
//
// The package uses cgo and finds libpmq through pkg-config (`#cgo
// pkg-config: pmq`). After `make && sudo make install` in the pmq tree,
// `go build` just works. Against an uninstalled build tree:
//
//	make lib pc-uninstalled          # in the pmq tree
//	export PKG_CONFIG_PATH=$PWD/build/pkgconfig
//	export CGO_LDFLAGS="-Wl,-rpath,$PWD/target/release"   # or set LD_LIBRARY_PATH when running
//	go build ./...
//
// Static linking: cgo never passes --static to pkg-config, so build with the
// tag pmq_static (which drops the pkg-config directive) and give the flags:
//
//	CGO_CFLAGS="$(pkg-config --cflags pmq)" \
//	CGO_LDFLAGS="$(pkg-config --variable=libdir pmq)/libpmq.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc" \
//	go build -tags pmq_static ./...
//
// The program then does not need libpmq.so (check with ldd).
//
// # Queues
//
// Open, Create and CreateRandom take functional options (WithFlags,
// Exclusive, WithMode, WithCapacity, WithMessageSize, WithAccess, ReadOnly,
// WriteOnly, WithBlocking). Kernel limits are small by default (msg_max 10,
// msgsize_max 8192, RLIMIT_MSGQUEUE 800 KiB per user): ask for small queues.
//
// Send/Receive wait while the queue is full/empty; SendTimeout/
// ReceiveTimeout wait at most a time.Duration (0 tries once, Forever waits
// as long as it takes, like Send/Receive); SendContext/
// ReceiveContext stop when the context ends. A Queue made non-blocking
// (WithBlocking(false) or SetBlocking(false)) returns ErrWouldBlock at once.
//
// # Goroutines and threads
//
// libpmq's handle is opened non-blocking and every cgo call tries once and
// returns at once. A send or receive that can complete right away is one
// cgo call and nothing else: no lock, no heap allocation, no poller work. A
// goroutine that has to wait parks in Go's runtime poller on a private
// epoll instance of the Queue that watches the queue descriptor (Linux
// queue descriptors work with epoll) only while someone waits, so sends
// and receives that do not wait never wake the poller. Thousands of waiting
// goroutines need no OS threads. Signals the Go runtime uses itself
// (SIGURG for preemption) therefore never interrupt a wait, and
// ErrInterrupted is never returned by Send or Receive.
//
// The package closes no descriptor of the queue before Close, because
// Linux drops this process's notification registration on a queue whenever
// the process closes ANY descriptor of that queue.
//
// Close wakes every goroutine waiting in Send or Receive on the Queue: they
// return ErrClosed at once, having sent or taken nothing. Waits on other
// Queues of the same name go on.
//
// A Go program cannot fork without exec (syscall.ForkExec, os/exec), and
// queue descriptors are close-on-exec, so a child process never inherits a
// Queue; it opens the queue by name. (For C programs that fork, pmq.h states
// what a child may do with inherited handles and their notifications.)
//
// # Errors
//
// Failures are *Error values carrying the operation, the queue name, the
// Status, the errno and libpmq's detail. Use errors.Is with the sentinels
// (ErrWouldBlock, ErrTimeout, ErrBusy, ErrExist, ErrNotExist, ErrPermission,
// ErrInterrupted, ErrInvalid, ErrMessageTooLarge, ErrBufferTooSmall,
// ErrLimit, ErrClosed, ...). The detail is copied inside the same C call as
// the failing function, so it belongs to that call even though goroutines
// move between threads.
//
// # Notifications
//
// Notify delivers "the queue became non-empty" on a Go channel (a C
// trampoline with a runtime/cgo.Handle as its parameter, which libpmq hands
// back to be deleted, through pmq_queue_notify_callback's drop callback,
// exactly once when the registration can no longer fire); NotifySignal asks
// for a signal (catch it with os/signal.Notify); NotifyCancel cancels. See
// Notify for the kernel's rules.
package pmq
