//! No heap allocation per send/receive once a queue is open.
//!
//! A counting global allocator counts the allocations made by the calling
//! thread (a thread-local counter, so tests running in parallel do not see
//! each other's allocations). Each path is warmed up once first (the C ABI's
//! thread-local error detail keeps its buffer, so only its first failure may
//! allocate), then run many times with the counter watched: it must not move.
//! Covered: Timeout::Forever, TryOnce and After, with room/data present and on
//! the would-block / timed-out error paths, through the Rust API and through
//! the C ABI functions called from Rust (this crate), the batch calls of the
//! C ABI included (on both backends).

#[path = "../../tests/common/prefix.rs"]
mod prefix;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::time::Duration;

use crate::options::PMQ_BACKEND_SHM;
use crate::options::{pmq_options, pmq_options_init};
use crate::pmq_status;
use crate::queue::{pmq_queue, pmq_queue_free, pmq_queue_open, pmq_queue_unlink};
use crate::transfer::{
    pmq_message, pmq_queue_receive, pmq_queue_receive_batch, pmq_queue_receive_batch_timeout,
    pmq_queue_receive_timeout, pmq_queue_send, pmq_queue_send_batch, pmq_queue_send_batch_timeout,
    pmq_queue_send_timeout, pmq_received,
};
use pmq::{ErrorKind, Queue, Timeout};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    // try_with: the allocator may run while this thread's locals are torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to the System allocator with the caller's
// arguments unchanged; counting has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded caller contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: forwarded caller contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: forwarded caller contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded caller contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

/// Runs `f` once to warm up, then `n` times; returns the allocations made
/// by those `n` runs on this thread.
fn allocs_in(n: u32, mut f: impl FnMut()) -> u64 {
    f();
    let before = allocations();
    for _ in 0..n {
        f();
    }
    allocations() - before
}

const SIZE: usize = 64;

/// A small queue, unlinked at once so that nothing is left behind.
fn queue(tag: &str) -> Queue {
    let name = prefix::named(format!("/pmq-alloc-{}_{tag}", std::process::id()));
    let q = Queue::options()
        .exclusive(true)
        .max_messages(2)
        .max_message_size(SIZE as i64)
        .open(Some(&name))
        .expect("open test queue");
    q.unlink().expect("unlink test queue");
    q
}

#[test]
fn the_counter_sees_allocations() {
    // Without this, "zero allocations" below could mean a counter that never counts.
    let n = allocs_in(3, || {
        black_box(vec![1u8; black_box(16)]);
    });
    assert_eq!(n, 3);
}

#[test]
fn rust_api_success_paths_do_not_allocate() {
    let q = queue("rust_ok");
    let msg = [7u8; 16];
    let mut buf = [0u8; SIZE];
    let timeouts = [
        Timeout::Forever,
        Timeout::TryOnce,
        Timeout::After(Duration::from_secs(1)),
    ];
    for t in timeouts {
        let n = allocs_in(200, || {
            q.send(&msg, 1, t).expect("send with room");
            let (len, prio) = q.receive(&mut buf, t).expect("receive with data");
            assert_eq!((len, prio), (16, 1));
        });
        assert_eq!(
            n, 0,
            "send+receive with {t:?} allocated {n} times in 200 pairs"
        );
    }
}

#[test]
fn rust_api_would_block_and_timeout_paths_do_not_allocate() {
    let q = queue("rust_err");
    let msg = [7u8; 16];
    let mut buf = [0u8; SIZE];
    // Empty queue: receive fails.
    let n = allocs_in(200, || {
        let e = q.receive(&mut buf, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
    });
    assert_eq!(n, 0, "try-once receive on an empty queue allocated");
    let n = allocs_in(5, || {
        let e = q
            .receive(&mut buf, Timeout::After(Duration::from_millis(1)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
    });
    assert_eq!(n, 0, "timed-out receive allocated");
    // Full queue: send fails.
    q.send(&msg, 0, Timeout::TryOnce).unwrap();
    q.send(&msg, 0, Timeout::TryOnce).unwrap();
    let n = allocs_in(200, || {
        let e = q.send(&msg, 0, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
    });
    assert_eq!(n, 0, "try-once send on a full queue allocated");
    let n = allocs_in(5, || {
        let e = q
            .send(&msg, 0, Timeout::After(Duration::from_millis(1)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
    });
    assert_eq!(n, 0, "timed-out send allocated");
    // A non-blocking handle: Forever returns WouldBlock at once.
    q.set_block(false).unwrap();
    let n = allocs_in(200, || {
        let e = q.send(&msg, 0, Timeout::Forever).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
    });
    assert_eq!(n, 0, "send on a full non-blocking handle allocated");
}

/// A C handle opened through the C ABI, freed on drop.
struct CQueue(*mut pmq_queue);

impl CQueue {
    fn open() -> CQueue {
        CQueue::open_on(0)
    }

    fn open_on(backend: u32) -> CQueue {
        // SAFETY: pmq_options is plain data; pmq_options_init fills all of it.
        let mut o: pmq_options = unsafe { std::mem::zeroed() };
        // SAFETY: `o` is a valid, writable pmq_options.
        assert_eq!(unsafe { pmq_options_init(&mut o) }, pmq_status::Ok);
        o.backend = backend;
        o.flags = pmq::O_CREX;
        o.max_messages = 2;
        o.max_message_size = SIZE as i64;
        let mut q: *mut pmq_queue = std::ptr::null_mut();
        // SAFETY: a NULL name asks for a random one; `o` and `q` are valid.
        assert_eq!(
            unsafe { pmq_queue_open(std::ptr::null(), &o, &mut q) },
            pmq_status::Ok
        );
        // SAFETY: `q` is the handle just opened.
        assert_eq!(unsafe { pmq_queue_unlink(q) }, pmq_status::Ok);
        CQueue(q)
    }

    fn send(&self, msg: &[u8], timeout: Option<f64>) -> pmq_status {
        // SAFETY: the handle is open; `msg` is valid for its length.
        unsafe {
            match timeout {
                None => pmq_queue_send(self.0, msg.as_ptr(), msg.len(), 0),
                Some(t) => pmq_queue_send_timeout(self.0, msg.as_ptr(), msg.len(), 0, t),
            }
        }
    }

    fn receive(&self, buf: &mut [u8], timeout: Option<f64>) -> (pmq_status, usize) {
        let mut len = 0usize;
        let mut prio = 0u32;
        // SAFETY: the handle is open; `buf` is valid for writes of its length;
        // `len` and `prio` are valid out-pointers.
        let st = unsafe {
            match timeout {
                None => pmq_queue_receive(self.0, buf.as_mut_ptr(), buf.len(), &mut len, &mut prio),
                Some(t) => pmq_queue_receive_timeout(
                    self.0,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut len,
                    &mut prio,
                    t,
                ),
            }
        };
        (st, len)
    }
}

impl CQueue {
    fn send_batch(&self, msgs: &[pmq_message], timeout: Option<f64>) -> (pmq_status, usize) {
        let mut sent = 0usize;
        // SAFETY: the handle is open; `msgs` holds valid messages; `sent` is
        // a valid out-pointer.
        let st = unsafe {
            match timeout {
                None => pmq_queue_send_batch(self.0, msgs.as_ptr(), msgs.len(), &mut sent),
                Some(t) => {
                    pmq_queue_send_batch_timeout(self.0, msgs.as_ptr(), msgs.len(), &mut sent, t)
                }
            }
        };
        (st, sent)
    }

    fn receive_batch(
        &self,
        buf: &mut [u8],
        out: &mut [pmq_received],
        timeout: Option<f64>,
    ) -> (pmq_status, usize) {
        let mut n = 0usize;
        let (b, bl, o, ol) = (buf.as_mut_ptr(), buf.len(), out.as_mut_ptr(), out.len());
        // SAFETY: the handle is open; `buf` and `out` are valid for writes of
        // their lengths; `n` is a valid out-pointer.
        let st = unsafe {
            match timeout {
                None => pmq_queue_receive_batch(self.0, b, bl, o, ol, &mut n),
                Some(t) => pmq_queue_receive_batch_timeout(self.0, b, bl, o, ol, &mut n, t),
            }
        };
        (st, n)
    }
}

/// The batch calls pass the caller's array on in place: no allocation per
/// call, on either backend, with room / data present and on the
/// would-block path (before, the batch send built a Vec per call).
#[test]
fn c_abi_batch_calls_do_not_allocate() {
    for backend in [0, PMQ_BACKEND_SHM] {
        let q = CQueue::open_on(backend);
        let a = [1u8; 16];
        let b = [2u8; 8];
        let msgs = [
            pmq_message {
                data: a.as_ptr(),
                len: a.len(),
                priority: 2,
            },
            pmq_message {
                data: b.as_ptr(),
                len: b.len(),
                priority: 2,
            },
        ];
        let mut buf = [0u8; 2 * SIZE];
        let mut out = [pmq_received::default(); 2];
        for t in [None, Some(0.0), Some(1.0)] {
            let n = allocs_in(200, || {
                assert_eq!(q.send_batch(&msgs, t), (pmq_status::Ok, 2));
                assert_eq!(q.receive_batch(&mut buf, &mut out, t), (pmq_status::Ok, 2));
                assert_eq!((out[0].len, out[1].len), (16, 8));
            });
            assert_eq!(
                n, 0,
                "C batch send+receive (backend {backend}, timeout {t:?}) allocated {n} times"
            );
        }
        // Full: the batch send would block; empty: the batch receive would.
        assert_eq!(q.send_batch(&msgs, Some(0.0)), (pmq_status::Ok, 2));
        let n = allocs_in(200, || {
            assert_eq!(q.send_batch(&msgs, Some(0.0)).0, pmq_status::WouldBlock);
        });
        assert_eq!(
            n, 0,
            "C batch send on a full queue (backend {backend}) allocated"
        );
        assert_eq!(
            q.receive_batch(&mut buf, &mut out, None),
            (pmq_status::Ok, 2)
        );
        let n = allocs_in(200, || {
            let r = q.receive_batch(&mut buf, &mut out, Some(0.0));
            assert_eq!(r.0, pmq_status::WouldBlock);
        });
        assert_eq!(
            n, 0,
            "C batch receive on an empty queue (backend {backend}) allocated"
        );
    }
}

impl Drop for CQueue {
    fn drop(&mut self) {
        // SAFETY: the handle came from pmq_queue_open and is freed once.
        unsafe { pmq_queue_free(self.0) };
    }
}

#[test]
fn c_abi_success_paths_do_not_allocate() {
    let q = CQueue::open();
    let msg = [7u8; 16];
    let mut buf = [0u8; SIZE];
    for t in [None, Some(0.0), Some(1.0)] {
        let n = allocs_in(200, || {
            assert_eq!(q.send(&msg, t), pmq_status::Ok);
            assert_eq!(q.receive(&mut buf, t), (pmq_status::Ok, 16));
        });
        assert_eq!(n, 0, "C send+receive with timeout {t:?} allocated");
    }
}

#[test]
fn c_abi_would_block_and_timeout_paths_do_not_allocate() {
    let q = CQueue::open();
    let msg = [7u8; 16];
    let mut buf = [0u8; SIZE];
    // Warm every failure path once: the thread-local error detail grows its
    // buffer to the longest detail, then reuses it.
    assert_eq!(q.receive(&mut buf, Some(0.0)).0, pmq_status::WouldBlock);
    assert_eq!(q.receive(&mut buf, Some(0.001)).0, pmq_status::TimedOut);
    assert_eq!(q.send(&msg, Some(0.0)), pmq_status::Ok);
    assert_eq!(q.send(&msg, Some(0.0)), pmq_status::Ok);
    assert_eq!(q.send(&msg, Some(0.0)), pmq_status::WouldBlock);
    assert_eq!(q.send(&msg, Some(0.001)), pmq_status::TimedOut);
    let n = allocs_in(200, || {
        assert_eq!(q.send(&msg, Some(0.0)), pmq_status::WouldBlock);
    });
    assert_eq!(n, 0, "C try-once send on a full queue allocated");
    let n = allocs_in(5, || {
        assert_eq!(q.send(&msg, Some(0.001)), pmq_status::TimedOut);
    });
    assert_eq!(n, 0, "C timed-out send allocated");
    assert_eq!(q.receive(&mut buf, None), (pmq_status::Ok, 16));
    assert_eq!(q.receive(&mut buf, None), (pmq_status::Ok, 16));
    let n = allocs_in(200, || {
        assert_eq!(q.receive(&mut buf, Some(0.0)).0, pmq_status::WouldBlock);
    });
    assert_eq!(n, 0, "C try-once receive on an empty queue allocated");
    let n = allocs_in(5, || {
        assert_eq!(q.receive(&mut buf, Some(0.001)).0, pmq_status::TimedOut);
    });
    assert_eq!(n, 0, "C timed-out receive allocated");
}

/// The shared-memory backend allocates nothing per send or receive either
/// (success, would-block and timed-out paths).
#[test]
fn shm_backend_send_receive_do_not_allocate() {
    let name = prefix::named(format!("/pmq-alloc-{}_shm", std::process::id()));
    let q = Queue::options()
        .backend(pmq::BackendKind::Shm)
        .exclusive(true)
        .max_messages(2)
        .max_message_size(SIZE as i64)
        .open(Some(&name))
        .expect("open shm test queue");
    q.unlink().expect("unlink shm test queue");
    let msg = [7u8; 16];
    let mut buf = [0u8; SIZE];
    for t in [
        Timeout::Forever,
        Timeout::TryOnce,
        Timeout::After(Duration::from_secs(1)),
    ] {
        let n = allocs_in(200, || {
            q.send(&msg, 3, t).expect("send with room");
            assert_eq!(q.receive(&mut buf, t).expect("receive"), (16, 3));
        });
        assert_eq!(n, 0, "shm send+receive with {t:?} allocated {n} times");
    }
    let n = allocs_in(200, || {
        let e = q.receive(&mut buf, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
    });
    assert_eq!(n, 0, "shm try-once receive on an empty queue allocated");
    let n = allocs_in(5, || {
        let e = q
            .receive(&mut buf, Timeout::After(Duration::from_millis(1)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
    });
    assert_eq!(n, 0, "shm timed-out receive allocated");
}
