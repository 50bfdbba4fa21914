//! Batch send and receive (`Queue::send_batch` / `Queue::receive_batch`) on
//! both backends: order (priority, then FIFO), exact bytes, partial batches
//! at capacity, packing into the buffer, validation before anything moves,
//! try-once / timed / blocking waits for the first message, and close.
//!
//! Kernel queues stay within the default limits (at most 8 messages of 64
//! bytes); every queue is unlinked by a Drop guard, even on failure.

mod common;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use pmq::{BackendKind, ErrorKind, InMessage, OutMessage, Queue, Timeout};

const BACKENDS: [BackendKind; 2] = [BackendKind::Kernel, BackendKind::Shm];

use common::Unlink;

fn queue(b: BackendKind, tag: &str, max_messages: i64, size: i64) -> (Queue, Unlink) {
    let (name, guard) = common::unique(b, "batch", tag);
    let q = Queue::options()
        .backend(b)
        .exclusive(true)
        .max_messages(max_messages)
        .max_message_size(size)
        .open(Some(&name))
        .unwrap_or_else(|e| panic!("{b:?}: open {name}: {e}"));
    (q, guard)
}

/// The messages of a batch receive, copied out.
fn messages(buf: &[u8], got: &[InMessage]) -> Vec<(Vec<u8>, u32)> {
    got.iter()
        .map(|m| (buf[m.offset..m.offset + m.len].to_vec(), m.priority))
        .collect()
}

#[test]
fn a_batch_keeps_priority_order_fifo_and_exact_bytes() {
    for b in BACKENDS {
        let (q, _g) = queue(b, "order", 8, 64);
        let big = vec![0xA5u8; 64];
        let batch = [
            OutMessage::new(b"a1", 1),
            OutMessage::new(b"", 5),
            OutMessage::new(b"b1\0x", 1),
            OutMessage::new(&big, 5),
            OutMessage::new(b"c0", 0),
        ];
        assert_eq!(q.send_batch(&batch, Timeout::TryOnce).unwrap(), 5, "{b:?}");
        assert_eq!(q.current_messages().unwrap(), 5, "{b:?}");
        let mut buf = vec![0u8; 64 * 8];
        let mut out = [InMessage::default(); 16];
        let n = q
            .receive_batch(&mut buf, &mut out, Timeout::TryOnce)
            .unwrap();
        assert_eq!(n, 5, "{b:?}");
        let got = messages(&buf, &out[..n]);
        let want: Vec<(Vec<u8>, u32)> = vec![
            (vec![], 5),
            (big.clone(), 5),
            (b"a1".to_vec(), 1),
            (b"b1\0x".to_vec(), 1),
            (b"c0".to_vec(), 0),
        ];
        assert_eq!(got, want, "{b:?}");
        // Offsets never overlap and stay inside the buffer.
        let mut end = 0;
        for m in &out[..n] {
            assert!(m.offset >= end, "{b:?}: {out:?}");
            end = m.offset + m.len;
        }
        assert!(end <= buf.len());
        assert_eq!(q.current_messages().unwrap(), 0, "{b:?}");
    }
}

#[test]
fn a_full_queue_takes_part_of_a_batch_and_says_how_much() {
    for b in BACKENDS {
        let (q, _g) = queue(b, "full", 4, 16);
        let data: Vec<Vec<u8>> = (0..6u8).map(|i| vec![i; 3]).collect();
        let batch: Vec<OutMessage<'_>> = data.iter().map(|d| OutMessage::new(d, 2)).collect();
        assert_eq!(q.send_batch(&batch, Timeout::TryOnce).unwrap(), 4, "{b:?}");
        let e = q.send_batch(&batch[4..], Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{b:?}");
        let e = q
            .send_batch(&batch[4..], Timeout::After(Duration::from_millis(30)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{b:?}");
        // The rest goes in once there is room, in order.
        let mut one = [0u8; 16];
        assert_eq!(q.receive(&mut one, Timeout::TryOnce).unwrap(), (3, 2));
        assert_eq!(&one[..3], &[0, 0, 0]);
        assert_eq!(q.send_batch(&batch[4..], Timeout::TryOnce).unwrap(), 1);
        let mut buf = vec![0u8; 16 * 4];
        let mut out = [InMessage::default(); 8];
        let n = q
            .receive_batch(&mut buf, &mut out, Timeout::TryOnce)
            .unwrap();
        let firsts: Vec<u8> = messages(&buf, &out[..n]).iter().map(|m| m.0[0]).collect();
        assert_eq!(firsts, [1, 2, 3, 4], "{b:?}");
    }
}

#[test]
fn an_invalid_message_anywhere_sends_nothing_and_is_named() {
    for b in BACKENDS {
        let (q, _g) = queue(b, "invalid", 8, 16);
        let long = [7u8; 17];
        let batch = [
            OutMessage::new(b"ok", 1),
            OutMessage::new(b"ok", 1),
            OutMessage::new(&long, 1),
        ];
        let e = q.send_batch(&batch, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MessageTooLarge, "{b:?}");
        assert!(e.detail().contains("message 2 of the batch of 3"), "{e}");
        let prio = [OutMessage::new(b"ok", 1), OutMessage::new(b"x", 40_000)];
        let e = q.send_batch(&prio, Timeout::TryOnce).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{b:?}");
        assert!(e.detail().contains("message 1 of the batch of 2"), "{e}");
        assert_eq!(q.current_messages().unwrap(), 0, "{b:?}: nothing sent");
    }
}

#[test]
fn the_buffer_bounds_a_batch_receive() {
    for b in BACKENDS {
        let (q, _g) = queue(b, "pack", 8, 64);
        let m = [1u8; 10];
        let batch = [OutMessage::new(&m, 0); 8];
        assert_eq!(q.send_batch(&batch, Timeout::TryOnce).unwrap(), 8);
        let mut out = [InMessage::default(); 8];
        // One max_message_size of room: the kernel needs that much per
        // message, shm packs by length (64 / 10 = 6).
        let mut buf = vec![0u8; 64];
        let n = q
            .receive_batch(&mut buf, &mut out, Timeout::TryOnce)
            .unwrap();
        let want = if b == BackendKind::Shm { 6 } else { 1 };
        assert_eq!(n, want, "{b:?}");
        assert!(out[..n].iter().all(|o| o.len == 10 && o.offset + 10 <= 64));
        // `out` bounds it too.
        let mut buf = vec![0u8; 64 * 8];
        let left = 8 - n;
        let n2 = q
            .receive_batch(&mut buf, &mut out[..1], Timeout::TryOnce)
            .unwrap();
        assert_eq!(n2, 1, "{b:?}");
        let n3 = q
            .receive_batch(&mut buf, &mut out, Timeout::TryOnce)
            .unwrap();
        assert_eq!(n3, left - 1, "{b:?}");
        // Too small a buffer takes nothing.
        assert_eq!(q.send_batch(&batch[..1], Timeout::TryOnce).unwrap(), 1);
        let e = q
            .receive_batch(&mut buf[..63], &mut out, Timeout::TryOnce)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BufferTooSmall, "{b:?}");
        assert_eq!(e.needed(), 64);
        assert_eq!(q.current_messages().unwrap(), 1, "{b:?}");
    }
}

#[test]
fn empty_batches_and_empty_queues() {
    for b in BACKENDS {
        let (q, _g) = queue(b, "empty", 4, 16);
        assert_eq!(q.send_batch(&[], Timeout::Forever).unwrap(), 0);
        let mut buf = [0u8; 16];
        assert_eq!(
            q.receive_batch(&mut buf, &mut [], Timeout::Forever)
                .unwrap(),
            0
        );
        let mut out = [InMessage::default(); 4];
        let e = q
            .receive_batch(&mut buf, &mut out, Timeout::TryOnce)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{b:?}");
        let t = Instant::now();
        let e = q
            .receive_batch(
                &mut buf,
                &mut out,
                Timeout::After(Duration::from_millis(40)),
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{b:?}");
        assert!(t.elapsed() >= Duration::from_millis(40));
        // A non-blocking handle does not wait for the first message.
        q.set_block(false).unwrap();
        let e = q
            .receive_batch(&mut buf, &mut out, Timeout::Forever)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "{b:?}");
    }
}

#[test]
fn a_blocking_batch_receive_waits_for_the_first_and_close_ends_it() {
    for b in BACKENDS {
        let (q, _g) = queue(b, "wait", 8, 16);
        let q = Arc::new(q);
        let sender = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(50));
                let batch = [OutMessage::new(b"x", 3), OutMessage::new(b"y", 3)];
                q.send_batch(&batch, Timeout::Forever).unwrap()
            })
        };
        let mut buf = [0u8; 64];
        let mut out = [InMessage::default(); 4];
        let n = q
            .receive_batch(&mut buf, &mut out, Timeout::Forever)
            .unwrap();
        assert!((1..=2).contains(&n), "{b:?}: {n}");
        assert_eq!(sender.join().unwrap(), 2);
        assert_eq!(&buf[out[0].offset..][..1], b"x");
        // Drain, then a waiting batch receive ends with Closed on close.
        while q
            .receive_batch(&mut buf, &mut out, Timeout::TryOnce)
            .is_ok()
        {}
        let waiter = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let mut buf = [0u8; 64];
                let mut out = [InMessage::default(); 4];
                q.receive_batch(&mut buf, &mut out, Timeout::Forever)
                    .unwrap_err()
                    .kind()
            })
        };
        thread::sleep(Duration::from_millis(50));
        q.close().unwrap();
        assert_eq!(waiter.join().unwrap(), ErrorKind::Closed, "{b:?}");
        let e = q.send_batch(&[OutMessage::new(b"z", 0)], Timeout::TryOnce);
        assert_eq!(e.unwrap_err().kind(), ErrorKind::Closed);
    }
}

#[test]
fn batches_between_threads_lose_and_duplicate_nothing() {
    for b in BACKENDS {
        let (q, _g) = queue(b, "threads", 8, 16);
        let q = Arc::new(q);
        const N: u32 = 20_000;
        let producer = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let data: Vec<[u8; 4]> = (0..N).map(u32::to_le_bytes).collect();
                let mut i = 0;
                while i < data.len() {
                    let end = (i + 7).min(data.len());
                    let batch: Vec<OutMessage<'_>> =
                        data[i..end].iter().map(|d| OutMessage::new(d, 1)).collect();
                    i += q.send_batch(&batch, Timeout::Forever).unwrap();
                }
            })
        };
        let mut buf = [0u8; 16 * 8];
        let mut out = [InMessage::default(); 8];
        let mut next = 0u32;
        let mut calls = 0;
        while next < N {
            let n = q
                .receive_batch(&mut buf, &mut out, Timeout::Forever)
                .unwrap();
            calls += 1;
            for m in &out[..n] {
                let v = u32::from_le_bytes(buf[m.offset..m.offset + 4].try_into().unwrap());
                assert_eq!(v, next, "{b:?}: out of order or lost");
                next += 1;
            }
        }
        producer.join().unwrap();
        assert_eq!(q.current_messages().unwrap(), 0);
        println!("{b:?}: {N} messages in {calls} batch receives");
    }
}
