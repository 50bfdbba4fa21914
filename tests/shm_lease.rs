//! Leases on the shared-memory backend (issue 30): lease / ack / nack
//! semantics, FIFO by send order after a nack, LeaseLost details,
//! visibility expiry, capacity, the holder's end (close, death), the
//! kernel backend's refusal, dead letters. Every wait is bounded
//! generously and decided by state, never by speed.
//!
//! Each test unlinks its queues by a Drop guard, even on failure.

mod common;

use std::time::{Duration, Instant};

use pmq::{BackendKind, ErrorKind, Lease, Queue, Timeout};

const SHM: BackendKind = BackendKind::Shm;

fn open(name: &str, cap: i64) -> Queue {
    Queue::options()
        .backend(SHM)
        .create(true)
        .max_messages(cap)
        .max_message_size(64)
        .open(Some(name))
        .unwrap()
}

fn send(q: &Queue, s: &str, prio: u32) {
    q.send(s.as_bytes(), prio, Timeout::TryOnce).unwrap();
}

/// Leases one message without waiting: its text, priority, lease.
fn lease(q: &Queue, vis: Option<Duration>) -> (String, u32, Lease) {
    let mut buf = [0u8; 64];
    let (n, p, l) = q.lease(&mut buf, Timeout::TryOnce, vis).unwrap();
    (String::from_utf8(buf[..n].to_vec()).unwrap(), p, l)
}

fn recv(q: &Queue) -> Option<String> {
    let mut buf = [0u8; 64];
    match q.receive(&mut buf, Timeout::TryOnce) {
        Ok((n, _)) => Some(String::from_utf8(buf[..n].to_vec()).unwrap()),
        Err(e) if e.kind() == ErrorKind::WouldBlock => None,
        Err(e) => panic!("receive: {e}"),
    }
}

#[track_caller]
fn lost(r: pmq::Result<()>) -> String {
    let e = r.expect_err("a lease that is not this handle's was accepted");
    assert_eq!(e.kind(), ErrorKind::LeaseLost, "{e}");
    e.to_string()
}

/// Waits (bounded, 20 s) until `f` holds.
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < end, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn a_leased_message_is_invisible_to_others_until_acked() {
    let (name, _g) = common::unique_shm("lease", "ack");
    let q = open(&name, 8);
    let other = open(&name, 8);
    send(&q, "low", 1);
    send(&q, "high", 9);
    let (m, p, l) = lease(&q, None);
    assert_eq!((m.as_str(), p, l.delivery), ("high", 9, 1));
    assert_eq!(q.lease_stats().unwrap().leased, 1);
    assert!(q.lease_stats().unwrap().oldest_age.is_some());
    // Still in the queue (counted), but another receiver sees only "low".
    assert_eq!(q.attributes().unwrap().current_messages, 2);
    assert_eq!(recv(&other).as_deref(), Some("low"));
    assert_eq!(recv(&other), None);
    // Another handle cannot ack it.
    assert!(lost(other.ack(&l)).contains("held by another handle"));
    q.ack(&l).unwrap();
    assert_eq!(q.attributes().unwrap().current_messages, 0);
    assert_eq!(q.lease_stats().unwrap().leased, 0);
    assert_eq!(q.lease_stats().unwrap().oldest_age, None);
    // Idempotent: a second ack (or a nack) changes nothing and says so.
    assert!(lost(q.ack(&l)).contains("no longer in the queue"));
    assert!(lost(q.nack(&l)).contains("no longer in the queue"));
    q.check_invariants().unwrap();
}

#[test]
fn nack_puts_messages_back_in_send_order() {
    let (name, _g) = common::unique_shm("lease", "nack");
    let q = open(&name, 8);
    for s in ["a", "b", "c", "d"] {
        send(&q, s, 3);
    }
    send(&q, "x", 1);
    let (a, _, la) = lease(&q, None);
    let (b, _, lb) = lease(&q, None);
    let (c, _, lc) = lease(&q, None);
    assert_eq!((a.as_str(), b.as_str(), c.as_str()), ("a", "b", "c"));
    // Given back out of order: they return in send order, ahead of "d".
    q.nack(&lc).unwrap();
    q.nack(&la).unwrap();
    q.nack(&lb).unwrap();
    q.check_invariants().unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok((_, p, l)) = q.lease(&mut buf, Timeout::TryOnce, None) {
        got.push((p, l.seq, l.delivery));
        q.ack(&l).unwrap();
    }
    let seqs: Vec<u64> = got.iter().map(|g| g.1).collect();
    assert_eq!(seqs, vec![la.seq, lb.seq, lc.seq, lc.seq + 1, lc.seq + 2]);
    let deliveries: Vec<u32> = got.iter().map(|g| g.2).collect();
    assert_eq!(deliveries, vec![2, 2, 2, 1, 1]);
    // The nacked lease is not the holder's any more.
    assert!(lost(q.ack(&la)).contains("no longer in the queue"));
}

#[test]
fn lease_lost_details_say_what_happened() {
    let (name, _g) = common::unique_shm("lease", "lost");
    let q = open(&name, 4);
    send(&q, "m", 0);
    let (_, _, l1) = lease(&q, None);
    q.nack(&l1).unwrap();
    assert!(lost(q.nack(&l1)).contains("already nacked"));
    assert!(lost(q.ack(&l1)).contains("already nacked"));
    let (_, _, l2) = lease(&q, None);
    assert_eq!((l2.seq, l2.delivery), (l1.seq, 2));
    assert!(lost(q.ack(&l1)).contains("leased again"));
    let bogus = Lease {
        slot: 1_000_000,
        ..l2
    };
    assert!(lost(q.ack(&bogus)).contains("this queue has 4 slots"));
    q.ack(&l2).unwrap();
    q.check_invariants().unwrap();
}

#[test]
fn an_expired_lease_comes_back_and_a_late_ack_says_so() {
    let (name, _g) = common::unique_shm("lease", "expiry");
    let q = open(&name, 4);
    send(&q, "m", 0);
    // Expired with no sweep in between: the late ack gives it back.
    let (_, _, l) = lease(&q, Some(Duration::from_millis(5)));
    common::sleep_past_lease_end(Duration::from_millis(5));
    let e = lost(q.ack(&l));
    assert!(e.contains("visibility timeout (5 ms) passed"), "{e}");
    assert_eq!(q.lease_stats().unwrap().leased, 0);
    // Expired and swept (by another handle's look at the stats).
    let other = open(&name, 4);
    let (m, _, l2) = lease(&q, Some(Duration::from_millis(5)));
    assert_eq!((m.as_str(), l2.delivery), ("m", 2));
    until("the expired lease is swept", || {
        other.lease_stats().unwrap().leased == 0
    });
    assert!(lost(q.ack(&l2)).contains("visibility timeout passed"));
    assert_eq!(recv(&other).as_deref(), Some("m"));
    q.check_invariants().unwrap();
}

#[test]
fn a_blocked_receiver_gets_an_expired_message_without_a_send() {
    let (name, _g) = common::unique_shm("lease", "expwait");
    let q = open(&name, 4);
    send(&q, "m", 0);
    let (_, _, l) = lease(&q, Some(Duration::from_millis(20)));
    let other = open(&name, 4);
    let mut buf = [0u8; 64];
    let (n, _) = other
        .receive(&mut buf, Timeout::After(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(&buf[..n], b"m");
    // Received for good by the other handle: gone.
    assert!(lost(q.ack(&l)).contains("no longer in the queue"));
}

#[test]
fn leased_messages_count_against_capacity() {
    let (name, _g) = common::unique_shm("lease", "cap");
    let q = open(&name, 2);
    send(&q, "a", 0);
    send(&q, "b", 0);
    let (_, _, la) = lease(&q, None);
    let (_, _, lb) = lease(&q, None);
    let e = q.send(b"c", 0, Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
    q.nack(&lb).unwrap();
    let e = q.send(b"c", 0, Timeout::TryOnce).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "a nack frees no room: {e}");
    q.ack(&la).unwrap();
    send(&q, "c", 0);
    assert_eq!(recv(&q).as_deref(), Some("b"));
    assert_eq!(recv(&q).as_deref(), Some("c"));
    q.check_invariants().unwrap();
}

#[test]
fn closing_or_dropping_a_handle_gives_its_leases_back() {
    for close in [true, false] {
        let (name, _g) = common::unique_shm("lease", if close { "close" } else { "drop" });
        let q = open(&name, 4);
        send(&q, "a", 0);
        send(&q, "b", 0);
        let holder = open(&name, 4);
        let (_, _, la) = lease(&holder, None);
        let (_, _, lb) = lease(&holder, None);
        assert_eq!(q.lease_stats().unwrap().leased, 2);
        if close {
            // Closed, not yet dropped: the close is the holder's end.
            holder.close().unwrap();
            assert_eq!(q.lease_stats().unwrap().leased, 0, "after close");
            assert_eq!(holder.ack(&la).unwrap_err().kind(), ErrorKind::Closed);
        } else {
            drop(holder);
            assert_eq!(q.lease_stats().unwrap().leased, 0, "after drop");
        }
        let (a, _, l) = lease(&q, None);
        assert_eq!((a.as_str(), l.seq, l.delivery), ("a", la.seq, 2));
        assert_eq!(recv(&q).as_deref(), Some("b"));
        let _ = lb;
        q.check_invariants().unwrap();
    }
}

#[test]
fn a_dead_holders_leases_come_back_to_a_blocked_receiver() {
    let (name, _g) = common::unique_shm("lease", "dead");
    let q = open(&name, 4);
    send(&q, "a", 5);
    // SAFETY: the child only opens, leases and kills itself.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let c = open(&name, 4);
        let mut buf = [0u8; 64];
        let ok = c.lease(&mut buf, Timeout::TryOnce, None).is_ok();
        // SAFETY: raise/_exit have no preconditions.
        unsafe {
            if ok {
                libc::raise(libc::SIGKILL);
            }
            libc::_exit(3);
        }
    }
    let mut st = 0;
    // SAFETY: our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
    assert!(libc::WIFSIGNALED(st), "the child did not lease: {st}");
    let mut buf = [0u8; 64];
    let (n, p, l) = q
        .lease(&mut buf, Timeout::After(Duration::from_secs(20)), None)
        .unwrap();
    assert_eq!((&buf[..n], p, l.delivery), (&b"a"[..], 5, 2));
    q.ack(&l).unwrap();
    q.check_invariants().unwrap();
}

#[test]
fn ack_batch_acks_what_is_ours_and_names_the_first_lost() {
    let (name, _g) = common::unique_shm("lease", "batch");
    let q = open(&name, 8);
    for s in ["a", "b", "c", "d"] {
        send(&q, s, 0);
    }
    let mut buf = [0u8; 256];
    let mut out = [pmq::LeasedMessage::default(); 8];
    let n = q
        .lease_batch(&mut buf, &mut out, Timeout::TryOnce, None)
        .unwrap();
    assert_eq!(n, 4);
    let leases: Vec<Lease> = out[..n].iter().map(|m| m.lease).collect();
    q.nack(&leases[1]).unwrap();
    let (acked, r) = q.ack_batch_counted(&leases);
    assert_eq!(acked, 3);
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LeaseLost);
    assert!(e.to_string().contains("1 of 4 leases"), "{e}");
    assert!(e.to_string().contains("index 1"), "{e}");
    assert_eq!(recv(&q).as_deref(), Some("b"));
    assert_eq!(q.ack_batch(&[]).unwrap(), 0);
    q.check_invariants().unwrap();
}

#[test]
fn the_kernel_backend_refuses_leases_naming_shm() {
    let (name, _g) = common::unique(BackendKind::Kernel, "lease", "kernel");
    let q = Queue::options()
        .backend(BackendKind::Kernel)
        .create(true)
        .max_messages(2)
        .max_message_size(64)
        .open(Some(&name))
        .unwrap();
    let mut buf = [0u8; 64];
    let e = q.lease(&mut buf, Timeout::TryOnce, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSupported);
    assert!(e.to_string().contains("shared-memory"), "{e}");
    assert_eq!(
        q.ack(&Lease::default()).unwrap_err().kind(),
        ErrorKind::NotSupported
    );
    assert_eq!(q.instance_id(), None);
}

#[test]
fn instance_ids_differ_between_queues_of_one_name() {
    let (name, _g) = common::unique_shm("lease", "inst");
    let a = open(&name, 2).instance_id().unwrap();
    assert_eq!(open(&name, 2).instance_id(), Some(a));
    pmq::unlink_from(SHM, &name).unwrap();
    let b = open(&name, 2).instance_id().unwrap();
    assert_ne!(a, b);
    assert_ne!(a, 0);
}

fn dlq_queue(name: &str, dlq: Option<&str>) -> Queue {
    Queue::options()
        .backend(SHM)
        .create(true)
        .max_messages(4)
        .max_message_size(64)
        .max_deliveries(2)
        .dead_letter(dlq)
        .open(Some(name))
        .unwrap()
}

#[test]
fn a_message_delivered_too_often_moves_to_the_dead_letter_queue() {
    let (name, mut g) = common::unique_shm("lease", "dl");
    let dlq = common::unique_name("lease", "dlq");
    g.add(SHM, dlq.clone());
    let q = dlq_queue(&name, Some(&dlq));
    send(&q, "poison", 0);
    send(&q, "next", 0);
    for d in 1..=2 {
        let (m, _, l) = lease(&q, None);
        assert_eq!((m.as_str(), l.delivery), ("poison", d));
        q.nack(&l).unwrap();
    }
    // The third delivery: moved, and the next message leased instead.
    let (m, _, l) = lease(&q, None);
    assert_eq!((m.as_str(), l.delivery), ("next", 1));
    q.ack(&l).unwrap();
    let d = open(&dlq, 4);
    assert_eq!(recv(&d).as_deref(), Some("poison"));
    assert_eq!(q.attributes().unwrap().current_messages, 0);
}

#[test]
fn without_a_dead_letter_queue_it_is_dropped() {
    let (name, _g) = common::unique_shm("lease", "drop");
    let q = dlq_queue(&name, None);
    send(&q, "poison", 0);
    for _ in 0..2 {
        let (_, _, l) = lease(&q, None);
        q.nack(&l).unwrap();
    }
    let mut buf = [0u8; 64];
    let e = q.lease(&mut buf, Timeout::TryOnce, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "{e}");
    assert_eq!(q.attributes().unwrap().current_messages, 0);
    q.check_invariants().unwrap();
}

#[test]
fn a_send_to_a_queue_holding_only_leased_messages_fires_the_notification() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let (name, _g) = common::unique_shm("lease", "notify");
    let q = open(&name, 4);
    send(&q, "a", 0);
    let (_, _, l) = lease(&q, None);
    // Nothing a receive could take: a send must fire the registration.
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    q.notify_callback(move || {
        h.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    send(&q, "b", 0);
    until("the notification fires", || {
        hits.load(Ordering::SeqCst) == 1
    });
    q.ack(&l).unwrap();
}

#[test]
fn the_readiness_descriptor_is_not_readable_while_every_message_is_leased() {
    let (name, _g) = common::unique_shm("lease", "ready");
    let q = open(&name, 4);
    let fd = q.fileno().unwrap();
    let readable = || {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 1 && p.revents & libc::POLLIN != 0
    };
    send(&q, "a", 0);
    until("readable with a message", readable);
    let (_, _, l) = lease(&q, None);
    // A poller must not be told a receive would succeed (it would spin).
    until("not readable while it is leased", || !readable());
    q.nack(&l).unwrap();
    until("readable once it is back", readable);
}

#[test]
fn a_visibility_timeout_longer_than_the_backend_keeps_is_refused() {
    let (name, _g) = common::unique_shm("lease", "vis");
    let q = open(&name, 2);
    send(&q, "a", 0);
    let mut buf = [0u8; 64];
    let e = q
        .lease(
            &mut buf,
            Timeout::TryOnce,
            Some(Duration::from_secs(50 * 86_400)),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.to_string().contains("49.7 days"), "{e}");
    // Nothing was leased; a timeout below a millisecond is one.
    assert_eq!(q.lease_stats().unwrap().leased, 0);
    let (_, _, l) = lease(&q, Some(Duration::from_nanos(1)));
    common::sleep_past_lease_end(Duration::from_millis(1));
    assert!(lost(q.ack(&l)).contains("visibility timeout (1 ms) passed"));
}
