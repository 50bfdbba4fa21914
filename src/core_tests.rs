//! The core's timeout, block, interruption and close logic, proven through
//! the backend contract alone with the in-memory fake backend (no kernel).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::backend::BackendKind;
use crate::{ErrorKind, OpenOptions, Queue, Timeout};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh fake queue of capacity 2, message size 8.
fn fake(tweak: impl FnOnce(&mut OpenOptions)) -> Queue {
    let mut o = OpenOptions::for_backend(BackendKind::Fake);
    o.create(true).max_messages(2).max_message_size(8);
    tweak(&mut o);
    let name = format!("/f{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let q = o.open(Some(&name)).expect("fake open");
    q.unlink().expect("fake unlink");
    q
}

fn fill(q: &Queue) {
    while q.send(b"x", 0, Timeout::TryOnce).is_ok() {}
}

const SHORT: Duration = Duration::from_millis(30);

#[test]
fn try_once_and_a_zero_timeout_are_the_same_try() {
    let q = fake(|_| {});
    for t in [Timeout::TryOnce, Timeout::After(Duration::ZERO)] {
        let e = q.receive_vec(t).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{t:?}: {e}");
        assert!(e.detail().contains("empty"), "{t:?}: {e}");
    }
    fill(&q);
    for t in [Timeout::TryOnce, Timeout::After(Duration::ZERO)] {
        let e = q.send(b"y", 0, t).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{t:?}: {e}");
        assert!(e.detail().contains("full"), "{t:?}: {e}");
    }
    assert_eq!(
        q.fake_knobs().waits.load(Ordering::Acquire),
        0,
        "a try never waits"
    );
}

#[test]
fn a_bounded_wait_times_out_never_early_even_when_the_backend_wakes_early() {
    let q = fake(|_| {});
    let k = q.fake_knobs();
    k.early_elapsed.store(3, Ordering::Release);
    k.spurious_ready.store(3, Ordering::Release);
    let t0 = Instant::now();
    let e = q.receive_vec(Timeout::After(SHORT)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(t0.elapsed() >= SHORT, "returned after {:?}", t0.elapsed());
    assert!(
        k.waits.load(Ordering::Acquire) >= 7,
        "early and spurious wakes re-waited"
    );
    assert_eq!(k.early_elapsed.load(Ordering::Acquire), 0);
}

#[test]
fn a_wait_ends_with_the_message_that_arrives() {
    let q = Arc::new(fake(|_| {}));
    let q2 = Arc::clone(&q);
    let sender = thread::spawn(move || {
        thread::sleep(SHORT);
        q2.send(b"late", 3, Timeout::TryOnce).unwrap();
    });
    let (m, p) = q.receive_vec(Timeout::Forever).unwrap();
    assert_eq!((m.as_slice(), p), (&b"late"[..], 3));
    sender.join().unwrap();
}

#[test]
fn a_non_blocking_handle_never_waits_whatever_the_timeout() {
    let q = fake(|o| {
        o.block(false);
    });
    assert!(!q.block().unwrap());
    for t in [Timeout::Forever, Timeout::After(Duration::from_secs(60))] {
        let e = q.receive_vec(t).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{t:?}");
        assert!(e.detail().contains("non-blocking"), "{t:?}: {e}");
    }
    // A try on a non-blocking handle says only "empty".
    let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
    assert!(!e.detail().contains("non-blocking"), "{e}");
    assert_eq!(q.fake_knobs().waits.load(Ordering::Acquire), 0);
    // The switch flips back.
    q.set_block(true).unwrap();
    let e = q.receive_vec(Timeout::After(SHORT)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
}

#[test]
fn an_interruption_is_reported_unless_retry_on_interrupt() {
    let q = fake(|_| {});
    q.fake_knobs().interrupt_waits.store(1, Ordering::Release);
    let e = q.receive_vec(Timeout::Forever).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interrupted);
    assert_eq!(e.errno(), libc::EINTR);
    q.fake_knobs()
        .interrupt_attempts
        .store(1, Ordering::Release);
    let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interrupted, "an interrupted try too");

    let q = fake(|o| {
        o.retry_on_interrupt(true);
    });
    let k = q.fake_knobs();
    k.interrupt_waits.store(3, Ordering::Release);
    k.interrupt_attempts.store(2, Ordering::Release);
    let t0 = Instant::now();
    let e = q.receive_vec(Timeout::After(SHORT)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "interruptions resumed: {e}");
    assert!(t0.elapsed() >= SHORT);
    assert_eq!(k.interrupt_waits.load(Ordering::Acquire), 0);
    assert_eq!(k.interrupt_attempts.load(Ordering::Acquire), 0);
    q.send(b"m", 1, Timeout::TryOnce).unwrap();
    k.interrupt_attempts.store(2, Ordering::Release);
    assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().1, 1);
}

#[test]
fn close_wakes_every_waiter_and_nothing_moves_afterwards() {
    let q = Arc::new(fake(|_| {}));
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let t = if i == 0 {
                    Timeout::Forever
                } else {
                    Timeout::After(Duration::from_secs(60))
                };
                (Instant::now(), q.receive_vec(t))
            })
        })
        .collect();
    thread::sleep(SHORT);
    q.close().unwrap();
    for w in waiters {
        let (t0, r) = w.join().unwrap();
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Closed);
        assert!(e.detail().contains("while this receive waited"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(30));
    }
    let e = q.send(b"x", 0, Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    assert_eq!(q.close().unwrap_err().kind(), ErrorKind::Closed);
    assert_eq!(q.attributes().unwrap_err().kind(), ErrorKind::Closed);
    // What was fixed at open is still known.
    assert_eq!((q.max_messages(), q.max_message_size()), (2, 8));
}

#[test]
fn priorities_and_names_follow_the_backend_rules() {
    let q = fake(|_| {});
    q.send(b"a", 7, Timeout::TryOnce).unwrap();
    let e = q.send(b"a", 8, Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.detail().contains("0..=7"), "{e}");
    let e = q.send(&[0; 9], 0, Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MessageTooLarge);
    let e = q.receive(&mut [0; 7], Timeout::TryOnce).unwrap_err();
    assert_eq!((e.kind(), e.needed()), (ErrorKind::BufferTooSmall, 8));

    let long = format!("/{}", "n".repeat(17));
    let e = OpenOptions::for_backend(BackendKind::Fake)
        .create(true)
        .open(Some(&long))
        .unwrap_err();
    assert!(e.detail().contains("limit is 16"), "{e}");
    // Defaults come from the backend.
    let d = OpenOptions::for_backend(BackendKind::Fake);
    assert_eq!((d.get_max_messages(), d.get_max_message_size()), (4, 64));
}

#[test]
fn highest_priority_first_fifo_within_one() {
    let q = fake(|o| {
        o.max_messages(4);
    });
    for (m, p) in [(&b"a1"[..], 1), (b"b5", 5), (b"c1", 1), (b"d5", 5)] {
        q.send(m, p, Timeout::TryOnce).unwrap();
    }
    let got: Vec<_> = (0..4)
        .map(|_| q.receive_vec(Timeout::TryOnce).unwrap().0)
        .collect();
    assert_eq!(got, [&b"b5"[..], b"d5", b"a1", b"c1"]);
}

/// Sizes left unset are the chosen backend's defaults, resolved when the
/// queue is opened: choosing the backend after `new()` (which starts on the
/// kernel) must not keep the kernel's shape, and a size that was set stays.
#[test]
fn unset_sizes_follow_the_backend_chosen_after_new() {
    let mut o = OpenOptions::new();
    o.backend(BackendKind::Fake);
    assert_eq!((o.get_max_messages(), o.get_max_message_size()), (4, 64));
    let name = format!("/f{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let q = o.create(true).open(Some(&name)).expect("fake open");
    q.unlink().expect("fake unlink");
    assert_eq!((q.max_messages(), q.max_message_size()), (4, 64));

    let mut o = OpenOptions::new();
    o.max_messages(3).backend(BackendKind::Fake);
    assert_eq!((o.get_max_messages(), o.get_max_message_size()), (3, 64));
}

/// Raw flags are read once, by OpenFlags, into the switches; the hidden
/// flags() setter keeps O_NONBLOCK apart from `block` (as mq_open ORs them)
/// and reports refused flags at open.
#[test]
fn raw_flags_become_switches() {
    use crate::{OpenFlags, O_CREAT, O_CREX, O_EXCL, O_NONBLOCK};
    let f = OpenFlags::parse(O_CREX | O_NONBLOCK).unwrap();
    assert!(f.create && f.exclusive && f.nonblocking);
    assert_eq!(f.bits(), O_CREX | O_NONBLOCK);
    assert_eq!(OpenFlags::parse(0).unwrap(), OpenFlags::default());
    assert!(OpenFlags::parse(O_EXCL).is_err());
    assert!(OpenFlags::parse(0o1000).is_err());

    let mut o = OpenOptions::for_backend(BackendKind::Fake);
    o.flags(O_CREAT | O_NONBLOCK).block(true);
    assert_eq!(o.get_flags(), O_CREAT | O_NONBLOCK);
    assert!(o.get_switches().2);
    let name = format!("/f{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let q = o.open(Some(&name)).expect("fake open");
    q.unlink().expect("fake unlink");
    assert!(!q.block().unwrap());
    let e = o.flags(0o1000).open(Some(&name)).unwrap_err();
    assert!(e.detail().contains("unknown flag bits"), "{e}");
}
