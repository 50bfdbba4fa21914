//! Every message across, exactly once, on both backends; exact bytes and priorities.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::traffic::*;
use pmq::{BackendKind, Timeout};

// ---------------------------------------------------------------- end to end

fn end_to_end(backend: BackendKind, n: u64, depth: i64, face: Face) {
    let h = Harness::new("e2e", backend, depth, 64).via(face);
    let (a, b) = (&h.a, &h.b);
    let start = Instant::now();
    let mut out = h.out("out");
    let mut inb = h.inb("in", "30");
    let done = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicUsize::new(0));
    let producer = produce(a.open(), n, done.clone());
    let consumer = consume(
        b.open(),
        n,
        Duration::from_millis(500),
        Instant::now() + Duration::from_secs(120),
        progress,
    );
    let tally = consumer.join().unwrap();
    done.store(true, Ordering::SeqCst);
    producer.join().unwrap();
    let secs = start.elapsed().as_secs_f64();
    let (lost, dup) = (tally.lost(n), tally.duplicated());
    eprintln!(
        "bridge e2e ({}, {}): {n} messages in {secs:.1}s ({:.0} msg/s): lost {lost}, duplicated \
         {dup}, corrupt {}, wrong priority {}, out of per-priority order {}",
        a.backend_arg(),
        h.face_name(),
        n as f64 / secs,
        tally.corrupt,
        tally.wrong_priority,
        tally.out_of_order
    );
    assert_eq!(out.terminate(), 0, "bridge out: {}", out.stderr());
    assert_eq!(inb.terminate(), 0, "bridge in: {}", inb.stderr());
    assert_eq!(
        lost,
        0,
        "lost messages; out: {}\nin: {}",
        out.stderr(),
        inb.stderr()
    );
    assert_eq!(dup, 0, "duplicated messages");
    assert_eq!(tally.corrupt, 0, "corrupt messages");
    assert_eq!(tally.wrong_priority, 0, "priorities changed");
    // One producer, no faults: within a priority, messages stay in order.
    assert_eq!(tally.out_of_order, 0, "per-priority FIFO broken");
    assert_eq!(a.open().current_messages().unwrap(), 0);
    assert_eq!(b.open().current_messages().unwrap(), 0);
}

#[test]
fn bridge_end_to_end_shm_backend_every_message_exactly_once() {
    end_to_end(
        BackendKind::Shm,
        env_usize("PMQ_BRIDGE_MESSAGES", 100_000) as u64,
        256,
        Face::Program,
    );
}

#[test]
fn bridge_end_to_end_kernel_backend_depth_10() {
    end_to_end(
        BackendKind::Kernel,
        env_usize("PMQ_BRIDGE_KERNEL_MESSAGES", 20_000) as u64,
        10,
        // Through `pmq bridge`, which runs pmq-bridge.
        Face::Pmq,
    );
}

/// Binary, empty and largest messages, every priority boundary: bytes and
/// priorities arrive exactly.
#[test]
fn bridge_carries_exact_bytes_and_priorities() {
    let max = 1024i64;
    let h = Harness::new("exact", BackendKind::Kernel, 10, max);
    let (a, b) = (&h.a, &h.b);
    let mut out = h.out("out");
    let mut inb = h.inb("in", "30");
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let cases: Vec<(Vec<u8>, u32)> = vec![
        (vec![], 0),
        (vec![0], 1),
        (all_bytes.clone(), pmq::priority_max()),
        (vec![0xff; max as usize], 5),
        (b"\r\n\0\x1b[31m".to_vec(), 0),
        (vec![], pmq::priority_max()),
    ];
    let qa = a.open();
    let qb = b.open();
    let mut buf = vec![0u8; max as usize];
    // One at a time: the destination order is then the sending order.
    for (bytes, prio) in &cases {
        qa.send(bytes, *prio, Timeout::Forever).unwrap();
        let (len, p) = qb
            .receive(&mut buf, Timeout::After(Duration::from_secs(20)))
            .unwrap_or_else(|e| panic!("{e}; out: {}\nin: {}", out.stderr(), inb.stderr()));
        assert_eq!(
            &buf[..len],
            &bytes[..],
            "bytes of a {}-byte message",
            bytes.len()
        );
        assert_eq!(p, *prio);
    }
    assert_eq!(out.terminate(), 0);
    assert_eq!(inb.terminate(), 0);
    let o = out.stderr();
    assert!(
        o.contains("stopped by signal 15: 6 messages published"),
        "{o}"
    );
}
