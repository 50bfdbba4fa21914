//! The contract every backend keeps, written once: `backend_tests!` stamps
//! each body below into `mod kernel` and `mod shm` (the pattern of tokio's
//! `rt_test!` and iceoryx2's `instantiate_tests!`), so `cargo test --test
//! contract kernel::` and `... shm::` run the same checks on each backend.
//! What only one backend promises stays in core.rs (the kernel's limits,
//! /dev/mqueue, signals) and shm.rs (capacity beyond the kernel's, repair).
//!
//! Queues are small (the kernel's per-user allowance is shared by every
//! test running at once) and unlinked by a guard, also on failure.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::Unlink;
use pmq::{BackendKind, ErrorKind, OpenOptions, Queue, Timeout};

/// Defines each `fn name(kind: BackendKind)` once and a `#[test]` of the
/// same name in `mod kernel` and `mod shm` that calls it with its backend.
macro_rules! backend_tests {
    ($($(#[$meta:meta])* fn $name:ident($kind:ident: BackendKind) $body:block)*) => {
        $($(#[$meta])* fn $name($kind: BackendKind) $body)*

        mod kernel {
            $(#[test]
            fn $name() {
                super::$name(pmq::BackendKind::Kernel)
            })*
        }

        mod shm {
            $(#[test]
            fn $name() {
                super::$name(pmq::BackendKind::Shm)
            })*
        }
    };
}

/// Options on backend `k`.
fn on(k: BackendKind) -> OpenOptions {
    let mut o = Queue::options();
    o.backend(k);
    o
}

/// A fresh name on backend `k` and its guard.
fn unique(k: BackendKind, tag: &str) -> (String, Unlink) {
    common::unique(k, "contract", tag)
}

/// A new small queue on backend `k`.
fn small(k: BackendKind, tag: &str, max_messages: i64, size: i64) -> (Queue, Unlink) {
    let (name, guard) = unique(k, tag);
    let q = on(k)
        .exclusive(true)
        .max_messages(max_messages)
        .max_message_size(size)
        .open(Some(&name))
        .unwrap_or_else(|e| panic!("{k:?}: create {name}: {e}"));
    (q, guard)
}

backend_tests! {
    fn create_open_exclusive_and_missing(k: BackendKind) {
        let (name, _g) = unique(k, "open");
        let err = on(k).open(Some(&name)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(err.detail().contains("does not exist"), "{}", err.detail());
        assert_eq!(err.errno(), libc::ENOENT);

        let q = on(k)
            .create(true)
            .max_messages(3)
            .max_message_size(100)
            .open(Some(&name))
            .unwrap();
        assert_eq!((q.name(), q.backend()), (name.as_str(), k));
        let err = on(k)
            .exclusive(true)
            .max_messages(3)
            .max_message_size(100)
            .open(Some(&name))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Exists);
        assert!(err.detail().contains("already exists"), "{}", err.detail());

        // O_CREAT on an existing queue opens it: the existing shape wins.
        let q2 = on(k)
            .create(true)
            .max_messages(8)
            .max_message_size(200)
            .open(Some(&name))
            .unwrap();
        assert_eq!((q2.max_messages(), q2.max_message_size()), (3, 100));
        q.send(b"shared", 1, Timeout::TryOnce).unwrap();
        assert_eq!(
            q2.receive_vec(Timeout::TryOnce).unwrap(),
            (b"shared".to_vec(), 1)
        );
        // The other backend's namespace does not have it.
        let other = if k == BackendKind::Kernel { BackendKind::Shm } else { BackendKind::Kernel };
        assert_eq!(
            pmq::unlink_from(other, &name).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    fn read_and_write_access(k: BackendKind) {
        let (name, _g) = unique(k, "access");
        let wo = on(k)
            .exclusive(true)
            .max_messages(2)
            .max_message_size(16)
            .read(false)
            .open(Some(&name))
            .unwrap();
        let ro = on(k).write(false).open(Some(&name)).unwrap();
        assert!(!wo.can_read() && wo.can_write());
        assert!(ro.can_read() && !ro.can_write());
        let e = ro.send(b"x", 0, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permission);
        assert!(e.detail().contains("without write access"), "{}", e.detail());
        let e = wo.receive_vec(Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Permission);
        wo.send(b"ok", 2, Timeout::Forever).unwrap();
        assert_eq!(
            ro.receive_vec(Timeout::Forever).unwrap(),
            (b"ok".to_vec(), 2)
        );
    }

    fn exact_bytes_priorities_and_sizes(k: BackendKind) {
        let (q, _g) = small(k, "bytes", 10, 32);
        let nuls = b"a\0b\0\0";
        q.send(nuls, 0, Timeout::TryOnce).unwrap();
        q.send(b"", 0, Timeout::TryOnce).unwrap();
        q.send(&[7u8; 32], pmq::PRIORITY_MAX, Timeout::TryOnce)
            .unwrap();
        assert_eq!(q.current_messages().unwrap(), 3);
        let a = q.attributes().unwrap();
        assert_eq!(
            (a.max_messages, a.max_message_size, a.current_messages, a.block),
            (10, 32, 3, true)
        );

        let e = q
            .send(b"x", pmq::PRIORITY_MAX + 1, Timeout::TryOnce)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.detail().contains("priority 32768"), "{}", e.detail());
        let e = q.send(&[0u8; 33], 0, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MessageTooLarge);
        assert!(e.detail().contains("max_message_size of 32"), "{}", e.detail());
        assert_eq!(q.current_messages().unwrap(), 3);

        assert_eq!(
            q.receive_vec(Timeout::TryOnce).unwrap(),
            (vec![7u8; 32], pmq::PRIORITY_MAX)
        );
        assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap(), (nuls.to_vec(), 0));
        assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap(), (vec![], 0));

        // A buffer smaller than max_message_size: BufferTooSmall, nothing taken.
        q.send(b"m", 1, Timeout::TryOnce).unwrap();
        let mut buf = [0u8; 31];
        let e = q.receive(&mut buf, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BufferTooSmall);
        assert_eq!(e.needed(), 32);
        assert_eq!(q.current_messages().unwrap(), 1);
        let mut buf = [0u8; 32];
        assert_eq!(q.receive(&mut buf, Timeout::TryOnce).unwrap(), (1, 1));

        // Highest priority first, FIFO within a priority, over many rounds.
        let prios = [0u32, 3, 3, 9, 1, 9, 0, 3, 20, 1];
        for round in 0..20u32 {
            let mut sent: Vec<(u32, u32)> = Vec::new();
            for i in 0..10u32 {
                let p = prios[((i * 7 + round * 3) % 10) as usize];
                let seq = round * 10 + i;
                q.send(&seq.to_le_bytes(), p, Timeout::TryOnce).unwrap();
                sent.push((p, seq));
            }
            sent.sort_by_key(|&(p, _)| std::cmp::Reverse(p)); // stable: FIFO within a priority
            for (p, seq) in sent {
                let (m, got) = q.receive_vec(Timeout::TryOnce).unwrap();
                assert_eq!((got, m.as_slice()), (p, &seq.to_le_bytes()[..]));
            }
        }
        assert_eq!(q.current_messages().unwrap(), 0);
    }

    fn timeouts_try_once_bounded_and_satisfied(k: BackendKind) {
        let (q, _g) = small(k, "timeouts", 1, 16);
        let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert!(e.kind().is_busy());
        let t0 = Instant::now();
        let e = q
            .receive_vec(Timeout::After(Duration::from_millis(100)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut);
        assert!(t0.elapsed() >= Duration::from_millis(100));
        q.send(b"a", 0, Timeout::TryOnce).unwrap();
        assert_eq!(
            q.send(b"b", 0, Timeout::TryOnce).unwrap_err().kind(),
            ErrorKind::WouldBlock
        );
        let t0 = Instant::now();
        assert_eq!(
            q.send(b"b", 0, Timeout::After(Duration::from_millis(50)))
                .unwrap_err()
                .kind(),
            ErrorKind::TimedOut
        );
        assert!(t0.elapsed() >= Duration::from_millis(50));

        // A blocked sender is woken by a receive in another thread.
        let q = Arc::new(q);
        let (tx, rx) = std::sync::mpsc::channel();
        let sender = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                tx.send(common::gettid()).unwrap();
                q.send(b"2", 0, Timeout::Forever)
            })
        };
        common::wait_blocked(rx.recv().unwrap(), k);
        assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().0, b"a");
        sender.join().unwrap().unwrap();
        assert_eq!(q.receive_vec(Timeout::Forever).unwrap().0, b"2");

        // A bounded receive that a send from another handle satisfies.
        let other = on(k).open(Some(q.name())).unwrap();
        let tid = common::gettid();
        let late = thread::spawn(move || {
            common::wait_blocked(tid, k);
            other.send(b"late", 4, Timeout::Forever).unwrap();
        });
        let got = q.receive_vec(Timeout::After(Duration::from_secs(30)));
        late.join().unwrap();
        assert_eq!(got.unwrap(), (b"late".to_vec(), 4));
    }

    fn block_switch_is_per_handle(k: BackendKind) {
        let (a, _g) = small(k, "block", 1, 16);
        let b = on(k).open(Some(a.name())).unwrap();
        a.set_block(false).unwrap();
        assert!(!a.block().unwrap());
        assert!(b.block().unwrap());
        assert!(!a.attributes().unwrap().block);
        let e = a
            .receive_vec(Timeout::After(Duration::from_secs(5)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert!(e.detail().contains("non-blocking"), "{}", e.detail());
        let e = a.receive_vec(Timeout::Forever).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock);
        assert_eq!(
            b.receive_vec(Timeout::After(Duration::from_millis(30)))
                .unwrap_err()
                .kind(),
            ErrorKind::TimedOut
        );
        a.set_block(true).unwrap();
        assert!(a.block().unwrap());
    }

    fn close_then_every_call_is_closed(k: BackendKind) {
        let (q, _g) = small(k, "close", 2, 16);
        q.close().unwrap();
        assert!(q.is_closed());
        let closed = |r: pmq::Result<()>| {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Closed);
            assert!(e.detail().contains("closed"), "{}", e.detail());
        };
        closed(q.send(b"x", 0, Timeout::Forever));
        closed(q.send(b"x", 0, Timeout::TryOnce));
        closed(q.receive_vec(Timeout::Forever).map(|_| ()));
        closed(
            q.receive_vec(Timeout::After(Duration::from_secs(1)))
                .map(|_| ()),
        );
        closed(q.block().map(|_| ()));
        closed(q.set_block(false));
        closed(q.attributes().map(|_| ()));
        closed(q.current_messages().map(|_| ()));
        closed(q.fileno().map(|_| ()));
        closed(q.close());
        // Still available: name, mode, backend, unlink.
        assert!(q.name().starts_with(&common::prefix::named("/pmq-contract-close-")));
        assert_eq!(q.mode(), 0o600);
        assert_eq!(q.backend(), k);
        q.unlink().unwrap();
        assert_eq!(q.unlink().unwrap_err().kind(), ErrorKind::NotFound);
    }

    fn close_wakes_every_waiter_and_takes_nothing(k: BackendKind) {
        let (q, _g) = small(k, "closewait", 2, 16);
        let q = Arc::new(q);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let q = Arc::clone(&q);
                let tx = tx.clone();
                thread::spawn(move || {
                    tx.send(common::gettid()).unwrap();
                    q.receive_vec(Timeout::Forever)
                })
            })
            .collect();
        for _ in 0..2 {
            common::wait_blocked(rx.recv().unwrap(), k);
        }
        let other = on(k).open(Some(q.name())).unwrap();
        let closed_at = Instant::now();
        q.close().unwrap();
        assert_eq!(q.current_messages().unwrap_err().kind(), ErrorKind::Closed);
        // Close wakes the waiters: they return Closed at once, having taken nothing.
        for w in waiters {
            let e = w.join().unwrap().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Closed, "{}", e.detail());
        }
        assert!(closed_at.elapsed() < Duration::from_secs(5));
        other.send(b"kept", 6, Timeout::Forever).unwrap();
        assert_eq!(other.current_messages().unwrap(), 1);
    }

    fn unlink_keeps_open_handles_and_frees_the_name(k: BackendKind) {
        let (name, _g) = unique(k, "unlink");
        let q = on(k)
            .exclusive(true)
            .max_messages(3)
            .max_message_size(16)
            .open(Some(&name))
            .unwrap();
        q.send(b"old", 0, Timeout::TryOnce).unwrap();
        pmq::unlink_from(k, &name).unwrap();
        let e = pmq::unlink_from(k, &name).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.detail().contains("does not exist"), "{}", e.detail());
        assert_eq!(on(k).open(Some(&name)).unwrap_err().kind(), ErrorKind::NotFound);
        q.send(b"old2", 0, Timeout::TryOnce).unwrap();
        assert_eq!(q.current_messages().unwrap(), 2);
        let fresh = on(k)
            .create(true)
            .max_messages(2)
            .max_message_size(8)
            .open(Some(&name))
            .unwrap();
        assert_eq!(fresh.current_messages().unwrap(), 0);
        assert_eq!(fresh.max_messages(), 2);
        assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().0, b"old");
        fresh.unlink().unwrap();
    }
}
