//! pmq::tokio::AsyncQueue on both backends: readable and writable waits,
//! tokio::time::timeout, cancellation at random moments (every message
//! arrives exactly once), fairness among many tasks of one process and
//! among several processes. Needs `--features tokio` (make test runs it so).

mod common;
use common::prefix;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmq::tokio::AsyncQueue;
use pmq::{BackendKind, OpenOptions, Queue, Timeout};

const CHILD: &str = "PMQ_TOKIO_CHILD";
const BACKENDS: [BackendKind; 2] = [BackendKind::Kernel, BackendKind::Shm];

use common::Unlink;

fn queue(tag: &str, b: BackendKind, cap: i64) -> (Queue, Unlink) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let name = prefix::named(format!(
        "/pmq-tokio-{tag}-{:?}-{}-{}",
        b,
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let q = OpenOptions::new()
        .backend(b)
        .exclusive(true)
        .max_messages(cap)
        .max_message_size(16)
        .open(Some(&name))
        .unwrap();
    (q, Unlink::on(b, name))
}

fn reopen(q: &Queue, b: BackendKind) -> Queue {
    OpenOptions::new().backend(b).open(Some(q.name())).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn receive_waits_for_a_send_and_timeout_cancels_cleanly() {
    for b in BACKENDS {
        let (q, _g) = queue("basic", b, 4);
        let other = reopen(&q, b);
        rt().block_on(async {
            let aq = AsyncQueue::new(q).unwrap();
            // Nothing there: tokio's timeout ends the wait, nothing moved.
            let t0 = Instant::now();
            let r = tokio::time::timeout(Duration::from_millis(50), aq.receive_vec()).await;
            assert!(r.is_err(), "{b:?}: got {r:?} from an empty queue");
            assert!(t0.elapsed() >= Duration::from_millis(50));
            // A send from another handle (another thread) wakes the wait.
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                other.send(b"hi", 7, Timeout::TryOnce).unwrap();
            });
            let (m, p) = tokio::time::timeout(Duration::from_secs(10), aq.receive_vec())
                .await
                .expect("not woken by a send")
                .unwrap();
            assert_eq!((&m[..], p), (&b"hi"[..], 7), "{b:?}");
            sender.join().unwrap();
            assert_eq!(aq.get_ref().current_messages().unwrap(), 0);
        });
    }
}

#[test]
fn send_waits_for_room_without_a_thread() {
    for b in BACKENDS {
        let (q, _g) = queue("full", b, 2);
        let drainer = reopen(&q, b);
        rt().block_on(async {
            let aq = Arc::new(AsyncQueue::new(q).unwrap());
            let a2 = Arc::clone(&aq);
            // 20 sends into a queue of 2: each waits for room.
            let producer = tokio::spawn(async move {
                for i in 0..20u8 {
                    a2.send(&[i], 0).await.unwrap();
                }
            });
            let mut got = Vec::new();
            while got.len() < 20 {
                match drainer.receive_vec(Timeout::After(Duration::from_secs(10))) {
                    Ok((m, _)) => got.push(m[0]),
                    Err(e) => panic!("{b:?}: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            producer.await.unwrap();
            assert_eq!(
                got,
                (0..20).collect::<Vec<u8>>(),
                "{b:?}: FIFO, none lost or twice"
            );
        });
    }
}

/// Receivers cancelled at random moments (tokio::time::timeout with random
/// short durations, and aborted tasks) while a producer sends N numbered
/// messages: every message arrives exactly once.
#[test]
fn cancelled_receivers_lose_nothing_and_duplicate_nothing() {
    const N: u32 = 3000;
    for b in BACKENDS {
        let (q, _g) = queue("cancel", b, 8);
        let producer_q = reopen(&q, b);
        let seen = rt().block_on(async move {
            let aq = Arc::new(AsyncQueue::new(q).unwrap());
            let producer = tokio::task::spawn_blocking(move || {
                for i in 0..N {
                    producer_q
                        .send(
                            &i.to_le_bytes(),
                            i % 3,
                            Timeout::After(Duration::from_secs(10)),
                        )
                        .unwrap();
                    if i % 64 == 0 {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
            });
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let cancelled = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for t in 0..4u64 {
                let (aq, seen, cancelled) =
                    (Arc::clone(&aq), Arc::clone(&seen), Arc::clone(&cancelled));
                tasks.push(tokio::spawn(async move {
                    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                    loop {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let d = Duration::from_micros(rng % 400);
                        match tokio::time::timeout(d, aq.receive_vec()).await {
                            Ok(Ok((m, _))) => {
                                let i = u32::from_le_bytes(m[..4].try_into().unwrap());
                                seen.lock().unwrap().push(i);
                                if seen.lock().unwrap().len() as u32 >= N {
                                    return;
                                }
                            }
                            Ok(Err(e)) => panic!("receive: {e}"),
                            Err(_) => {
                                cancelled.fetch_add(1, Ordering::Relaxed);
                                if seen.lock().unwrap().len() as u32 >= N {
                                    return;
                                }
                            }
                        }
                    }
                }));
            }
            // Abort one more receiver task mid-wait, repeatedly.
            for _ in 0..50 {
                let aq = Arc::clone(&aq);
                let seen = Arc::clone(&seen);
                let h = tokio::spawn(async move {
                    if let Ok((m, _)) = aq.receive_vec().await {
                        seen.lock()
                            .unwrap()
                            .push(u32::from_le_bytes(m[..4].try_into().unwrap()));
                    }
                });
                tokio::time::sleep(Duration::from_micros(300)).await;
                h.abort();
                let _ = h.await;
            }
            producer.await.unwrap();
            let end = Instant::now() + Duration::from_secs(30);
            while (seen.lock().unwrap().len() as u32) < N && Instant::now() < end {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            for t in tasks {
                t.abort();
                let _ = t.await;
            }
            eprintln!(
                "tokio {b:?}: {N} messages, {} receives cancelled by timeout, 50 tasks aborted",
                cancelled.load(Ordering::Relaxed)
            );
            let v = seen.lock().unwrap().clone();
            v
        });
        assert_eq!(
            seen.len() as u32,
            N,
            "{b:?}: received {} of {N}",
            seen.len()
        );
        let unique: HashSet<u32> = seen.iter().copied().collect();
        assert_eq!(unique.len() as u32, N, "{b:?}: duplicates");
        assert!(unique.iter().all(|&i| i < N));
    }
}

/// 16 tasks of one process wait on one queue while messages flow: every
/// task receives some (none starves), and the total is exact.
#[test]
fn many_tasks_on_one_queue_all_make_progress() {
    const N: usize = 4000;
    for b in BACKENDS {
        let (q, _g) = queue("fair", b, 8);
        let producer_q = reopen(&q, b);
        let counts = rt().block_on(async move {
            let aq = Arc::new(AsyncQueue::new(q).unwrap());
            let total = Arc::new(AtomicUsize::new(0));
            let mut tasks = Vec::new();
            for _ in 0..16 {
                let (aq, total) = (Arc::clone(&aq), Arc::clone(&total));
                tasks.push(tokio::spawn(async move {
                    let mut mine = 0usize;
                    while total.load(Ordering::SeqCst) < N {
                        if let Ok(Ok(_)) =
                            tokio::time::timeout(Duration::from_millis(20), aq.receive_vec()).await
                        {
                            mine += 1;
                            total.fetch_add(1, Ordering::SeqCst);
                            // Some work per message, so others get their turn.
                            tokio::time::sleep(Duration::from_micros(100)).await;
                        }
                    }
                    mine
                }));
            }
            tokio::task::spawn_blocking(move || {
                for i in 0..N {
                    producer_q
                        .send(
                            &(i as u32).to_le_bytes(),
                            0,
                            Timeout::After(Duration::from_secs(10)),
                        )
                        .unwrap();
                }
            })
            .await
            .unwrap();
            let mut counts = Vec::new();
            for t in tasks {
                counts.push(t.await.unwrap());
            }
            counts
        });
        eprintln!("tokio {b:?}: 16 tasks received {counts:?}");
        assert_eq!(counts.iter().sum::<usize>(), N, "{b:?}");
        assert!(
            counts.iter().all(|&c| c > 0),
            "{b:?}: a task starved: {counts:?}"
        );
    }
}

/// Child side of the multi-process fairness test: receives with an
/// AsyncQueue until a zero-length message, then prints "count sum".
#[test]
fn tokio_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (b, name) = spec.split_once(' ').unwrap();
    let b = if b == "shm" {
        BackendKind::Shm
    } else {
        BackendKind::Kernel
    };
    let q = OpenOptions::new().backend(b).open(Some(name)).unwrap();
    let (n, sum) = rt().block_on(async move {
        let aq = AsyncQueue::new(q).unwrap();
        let (mut n, mut sum) = (0u64, 0u64);
        loop {
            let (m, _) = aq.receive_vec().await.unwrap();
            if m.is_empty() {
                return (n, sum);
            }
            n += 1;
            sum += u64::from(u32::from_le_bytes(m[..4].try_into().unwrap()));
            tokio::time::sleep(Duration::from_micros(50)).await;
        }
    });
    println!("{n} {sum}");
}

/// Three processes wait on one queue with AsyncQueue: each receives some,
/// and counts and sums add up (nothing lost, nothing twice).
#[test]
fn several_processes_on_one_queue_all_make_progress() {
    const N: u32 = 3000;
    for b in BACKENDS {
        let (q, _g) = queue("procs", b, 8);
        let tag = if b == BackendKind::Shm {
            "shm"
        } else {
            "kernel"
        };
        let kids: Vec<_> = (0..3)
            .map(|_| {
                std::process::Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--exact",
                        "tokio_child",
                        "--nocapture",
                        "--test-threads=1",
                        "-q",
                    ])
                    .env(CHILD, format!("{tag} {}", q.name()))
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for i in 0..N {
            q.send(&i.to_le_bytes(), 0, Timeout::After(Duration::from_secs(10)))
                .unwrap();
        }
        for _ in 0..3 {
            q.send(b"", 0, Timeout::After(Duration::from_secs(10)))
                .unwrap();
        }
        let mut counts = Vec::new();
        let mut sum = 0u64;
        for k in kids {
            let out = k.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let line = text
                .lines()
                .find(|l| l.split(' ').count() == 2)
                .unwrap_or("");
            let (n, s) = line.split_once(' ').expect("child printed no count");
            counts.push(n.parse::<u64>().unwrap());
            sum += s.parse::<u64>().unwrap();
        }
        eprintln!("tokio {b:?}: 3 processes received {counts:?}");
        assert_eq!(counts.iter().sum::<u64>(), u64::from(N), "{b:?}");
        assert_eq!(
            sum,
            u64::from(N) * u64::from(N - 1) / 2,
            "{b:?}: lost or twice"
        );
        assert!(
            counts.iter().all(|&c| c > 0),
            "{b:?}: a process starved: {counts:?}"
        );
    }
}

/// A producer and a consumer task on one thread (current_thread runtime)
/// and a queue of 2, many rounds: the readiness descriptor must give an
/// edge for every change, or a task whose attempt failed in a state the
/// shm readiness helper never saw waits forever (the helper must wake
/// both kinds of waiter on every change).
#[test]
fn one_thread_producer_and_consumer_never_hang() {
    for b in BACKENDS {
        let mut rounds = 0;
        for _ in 0..150 {
            let (q, _g) = queue("onethread", b, 2);
            let consumer = reopen(&q, b);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (p, c) = (
                    AsyncQueue::new(q).unwrap(),
                    AsyncQueue::new(consumer).unwrap(),
                );
                let send_all = async {
                    for i in 0..6u8 {
                        p.send(&[i], u32::from(i % 2)).await.unwrap();
                    }
                };
                let receive_all = async {
                    let mut n = 0;
                    while n < 6 {
                        c.receive_vec().await.unwrap();
                        n += 1;
                    }
                };
                tokio::time::timeout(Duration::from_secs(5), async {
                    tokio::join!(send_all, receive_all)
                })
                .await
                .unwrap_or_else(|_| panic!("{b:?}: round {rounds} hung"));
            });
            rounds += 1;
        }
        assert_eq!(rounds, 150);
    }
}

/// Closing the queue through `get_ref()` ends every waiting future with
/// CLOSED, on both backends and in both directions, with no send needed to
/// wake it (as the C API's close wakes waiting threads). The close comes
/// after 0..ROUNDS scheduler yields of the closing task, so it lands before,
/// during and after the futures start waiting.
#[test]
fn close_through_get_ref_wakes_waiting_futures() {
    const ROUNDS: usize = 40;
    for b in BACKENDS {
        for receive in [true, false] {
            for yields in 0..ROUNDS {
                let (q, _g) = queue("closewake", b, 2);
                if !receive {
                    while q.send(b"fill", 0, Timeout::TryOnce).is_ok() {}
                }
                rt().block_on(async {
                    let aq = Arc::new(AsyncQueue::new(q).unwrap());
                    let waiters: Vec<_> = (0..3)
                        .map(|_| {
                            let aq = aq.clone();
                            tokio::spawn(async move {
                                if receive {
                                    aq.receive_vec().await.map(|_| ())
                                } else {
                                    aq.send(b"x", 0).await
                                }
                            })
                        })
                        .collect();
                    for _ in 0..yields {
                        tokio::task::yield_now().await;
                    }
                    aq.get_ref().close().unwrap();
                    for w in waiters {
                        // A failure bound, not a timing: unwoken, it waits forever.
                        let r = tokio::time::timeout(Duration::from_secs(10), w)
                            .await
                            .unwrap_or_else(|_| {
                                panic!(
                                    "{b:?} {}: a future still waits 10 s after close \
                                     (close after {yields} yields)",
                                    if receive { "receive" } else { "send" }
                                )
                            })
                            .unwrap();
                        let e = r.expect_err("moved a message on a closed queue");
                        assert_eq!(e.kind(), pmq::ErrorKind::Closed, "{b:?}: {e}");
                    }
                });
            }
        }
    }
}

/// AsyncQueue's leases: a lease waits for a send (no thread), the message
/// stays counted in the queue until ack; nack gives it back to the next
/// lease (delivery 2); lease_batch and ack_batch move several; the kernel
/// backend refuses with NotSupported naming shm.
#[test]
fn lease_waits_then_ack_and_nack_settle_it() {
    for b in BACKENDS {
        let (q, _g) = queue("lease", b, 8);
        let other = reopen(&q, b);
        rt().block_on(async {
            let aq = AsyncQueue::new(q).unwrap();
            if b == BackendKind::Kernel {
                other.send(b"k", 1, Timeout::TryOnce).unwrap();
                let e = aq.lease_vec(None).await.unwrap_err();
                assert_eq!(e.kind(), pmq::ErrorKind::NotSupported, "{e}");
                assert!(e.detail().contains("shared-memory"), "{e}");
                let e = aq.ack(&pmq::Lease::default()).unwrap_err();
                assert_eq!(e.kind(), pmq::ErrorKind::NotSupported, "{e}");
                return;
            }
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                other.send(b"one", 3, Timeout::TryOnce).unwrap();
                other
            });
            let (m, p, l1) = tokio::time::timeout(Duration::from_secs(10), aq.lease_vec(None))
                .await
                .expect("a lease not woken by a send")
                .unwrap();
            let other = sender.join().unwrap();
            assert_eq!((&m[..], p, l1.delivery), (&b"one"[..], 3, 1));
            // Leased: still counted, invisible to a plain receive.
            assert_eq!(aq.get_ref().current_messages().unwrap(), 1);
            let e = other.receive_vec(Timeout::TryOnce).unwrap_err();
            assert_eq!(e.kind(), pmq::ErrorKind::WouldBlock, "{e}");
            aq.nack(&l1).unwrap();
            let (m, _, l2) = aq.lease_vec(None).await.unwrap();
            assert_eq!((&m[..], l2.seq, l2.delivery), (&b"one"[..], l1.seq, 2));
            aq.ack(&l2).unwrap();
            assert_eq!(aq.get_ref().current_messages().unwrap(), 0);
            let e = aq.ack(&l2).unwrap_err();
            assert_eq!(e.kind(), pmq::ErrorKind::LeaseLost, "{e}");
            // A batch: all five in order, acked together.
            for i in 0..5u8 {
                other.send(&[i], 0, Timeout::TryOnce).unwrap();
            }
            let mut buf = vec![0u8; 16 * 8];
            let mut out = [pmq::LeasedMessage::default(); 8];
            let n = aq.lease_batch(&mut buf, &mut out, None).await.unwrap();
            assert_eq!(n, 5);
            let got: Vec<u8> = out[..n].iter().map(|m| buf[m.offset]).collect();
            assert_eq!(got, [0, 1, 2, 3, 4]);
            let leases: Vec<pmq::Lease> = out[..n].iter().map(|m| m.lease).collect();
            assert_eq!(aq.ack_batch(&leases).unwrap(), 5);
            assert_eq!(aq.get_ref().current_messages().unwrap(), 0);
        });
    }
}

/// A lease held by a live but hung handle, with a visibility timeout: a
/// waiting AsyncQueue::lease gets the message once the timeout passes,
/// although no send makes the descriptor ready (the readiness helper wakes
/// when the lease is due, gives it back, and the message's return is an
/// edge; without that the wait lasts forever). And the same after the
/// holder closes without acking (its close gives the message back).
#[test]
fn lease_wait_finds_an_expired_or_returned_lease_without_a_send() {
    let b = BackendKind::Shm;
    for closing in [false, true] {
        let (q, _g) = queue("expire", b, 4);
        let holder = reopen(&q, b);
        q.send(b"hung", 0, Timeout::TryOnce).unwrap();
        let mut buf = [0u8; 16];
        let visibility = (!closing).then_some(Duration::from_millis(200));
        let (_, _, held) = holder
            .lease(&mut buf, Timeout::TryOnce, visibility)
            .unwrap();
        rt().block_on(async {
            let aq = AsyncQueue::new(q).unwrap();
            if closing {
                // Give the wait time to start, then close the holder.
                let h = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(100));
                    drop(holder);
                });
                let (m, _, l) = tokio::time::timeout(Duration::from_secs(10), aq.lease_vec(None))
                    .await
                    .expect("the lease wait missed the message its holder gave back")
                    .unwrap();
                assert_eq!((&m[..], l.seq, l.delivery), (&b"hung"[..], held.seq, 2));
                h.join().unwrap();
                aq.ack(&l).unwrap();
            } else {
                // A failure bound: unwoken, the wait lasts forever.
                let (m, _, l) = tokio::time::timeout(Duration::from_secs(10), aq.lease_vec(None))
                    .await
                    .expect("the lease wait missed the expired lease")
                    .unwrap();
                assert_eq!((&m[..], l.seq, l.delivery), (&b"hung"[..], held.seq, 2));
                aq.ack(&l).unwrap();
                let e = holder.ack(&held).unwrap_err();
                assert_eq!(e.kind(), pmq::ErrorKind::LeaseLost, "{e}");
            }
        });
    }
}

/// Leasing tasks cancelled at random moments (tokio::time::timeout with
/// random short durations) while a producer sends N numbered messages;
/// each lease is acked, or nacked every 7th time: every message is acked
/// exactly once, and only nacked ones are delivered more than once.
#[test]
fn cancelled_leases_lose_nothing_and_ack_everything_once() {
    const N: u32 = 2000;
    let b = BackendKind::Shm;
    let (q, _g) = queue("leasecancel", b, 8);
    let producer_q = reopen(&q, b);
    let (acked, redelivered, nacked) = rt().block_on(async move {
        let aq = Arc::new(AsyncQueue::new(q).unwrap());
        let producer = tokio::task::spawn_blocking(move || {
            for i in 0..N {
                producer_q
                    .send(
                        &i.to_le_bytes(),
                        i % 3,
                        Timeout::After(Duration::from_secs(10)),
                    )
                    .unwrap();
            }
        });
        let acked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let redelivered = Arc::new(AtomicUsize::new(0));
        let nacked = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for t in 0..4u64 {
            let (aq, acked, redelivered, nacked) = (
                Arc::clone(&aq),
                Arc::clone(&acked),
                Arc::clone(&redelivered),
                Arc::clone(&nacked),
            );
            tasks.push(tokio::spawn(async move {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
                let mut k = 0u64;
                while (acked.lock().unwrap().len() as u32) < N {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let d = Duration::from_micros(rng % 400);
                    let Ok(r) = tokio::time::timeout(d, aq.lease_vec(None)).await else {
                        continue;
                    };
                    let (m, _, lease) = r.unwrap();
                    if lease.delivery > 1 {
                        redelivered.fetch_add(1, Ordering::Relaxed);
                    }
                    k += 1;
                    if k % 7 == 0 {
                        aq.nack(&lease).unwrap();
                        nacked.fetch_add(1, Ordering::Relaxed);
                    } else {
                        aq.ack(&lease).unwrap();
                        acked
                            .lock()
                            .unwrap()
                            .push(u32::from_le_bytes(m[..4].try_into().unwrap()));
                    }
                }
            }));
        }
        producer.await.unwrap();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(60), t)
                .await
                .expect("leasing tasks stalled")
                .unwrap();
        }
        let v = acked.lock().unwrap().clone();
        (
            v,
            redelivered.load(Ordering::Relaxed),
            nacked.load(Ordering::Relaxed),
        )
    });
    eprintln!("tokio leases: {N} messages acked, {nacked} nacks, {redelivered} redeliveries");
    assert_eq!(acked.len() as u32, N, "acked {} of {N}", acked.len());
    let unique: HashSet<u32> = acked.iter().copied().collect();
    assert_eq!(unique.len() as u32, N, "a message acked twice");
    assert!(nacked > 0);
    assert_eq!(redelivered, nacked, "a redelivery that no nack explains");
}
