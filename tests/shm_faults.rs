//! Kill a process at every named kill point inside the shared-memory
//! backend's critical sections (send, receive, repair, notification
//! registration, create, opener registration) and check what survivors see:
//! the invariants hold, a message committed before the kill is there exactly
//! once, one that was not committed is not, and the survivors go on working.
//! Needs `--features fault-injection` (make test runs it so).
#![cfg(feature = "fault-injection")]

mod common;
use common::prefix;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmq::{BackendKind, ErrorKind, OpenOptions, Queue, Timeout};

const SHM: BackendKind = BackendKind::Shm;
const CHILD: &str = "PMQ_FAULT_CHILD";

use common::Unlink;

fn name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    prefix::named(format!(
        "/pmq-fault-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

fn open(name: &str) -> Queue {
    OpenOptions::new().backend(SHM).open(Some(name)).unwrap()
}

/// The child side: one operation on `name`, killed at the point the parent
/// put in PMQ_FAULT_KILL.
#[test]
fn fault_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let (role, name) = spec.split_once(':').unwrap();
    match role {
        "send" => {
            open(name).send(b"child", 9, Timeout::TryOnce).unwrap();
        }
        "receive" => {
            open(name).receive_vec(Timeout::TryOnce).unwrap();
        }
        "send-timed" => {
            // Waits (for the lock, or for room) up to 10 s.
            open(name)
                .send(b"child", 9, Timeout::After(Duration::from_secs(10)))
                .unwrap();
        }
        "touch" => {
            let _ = open(name).receive_vec(Timeout::TryOnce);
        }
        "lease" | "ack" | "nack" => {
            let q = open(name);
            let mut buf = [0u8; 64];
            let (_, _, l) = q.lease(&mut buf, Timeout::TryOnce, None).unwrap();
            match role {
                "ack" => q.ack(&l).unwrap(),
                "nack" => q.nack(&l).unwrap(),
                _ => {}
            }
            // Not killed: the leases die with the process (no close).
            std::mem::forget(q);
        }
        "send-batch" => {
            let batch: Vec<pmq::OutMessage<'_>> =
                BATCH.iter().map(|m| pmq::OutMessage::new(m, 7)).collect();
            open(name).send_batch(&batch, Timeout::TryOnce).unwrap();
        }
        "receive-batch" => {
            let mut buf = [0u8; 64 * 8];
            let mut out = [pmq::InMessage::default(); 8];
            open(name)
                .receive_batch(&mut buf, &mut out, Timeout::TryOnce)
                .unwrap();
        }
        "notify" => {
            let q = open(name);
            q.notify_callback(|| {}).unwrap();
            q.notify_cancel().unwrap();
        }
        "create" => {
            OpenOptions::new()
                .backend(SHM)
                .exclusive(true)
                .max_messages(4)
                .max_message_size(16)
                .open(Some(name))
                .unwrap();
        }
        "open" => {
            open(name);
        }
        "open-and-die" => {
            // Opens (inheriting whatever receipt its record holds) and is
            // killed before it receives or closes.
            let _q = open(name);
            // SAFETY: raising a signal has no memory-safety preconditions.
            unsafe { libc::raise(libc::SIGKILL) };
        }
        "truncated-while-locked" => {
            // The parent truncates the file while this receive holds the
            // lock (paused at receive.locked): Corrupted, and then this
            // thread goes on using another queue's robust lock (glibc's
            // robust list may still point into the truncated one).
            let (first, second) = name.split_once(',').unwrap();
            // Opened first, so it is not mapped where the truncated one
            // was (a reused range would hide a stale pointer).
            let other = open(second);
            let q = open(first);
            let e = q.receive_vec(Timeout::TryOnce).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
            drop(q);
            // Sends only (a receive would pause at receive.locked again).
            for i in 0..3u8 {
                other.send(&[i], 1, Timeout::TryOnce).unwrap();
            }
            drop(other);
            std::process::exit(0);
        }
        _ => unreachable!(),
    }
    // Reaching here means the kill point was not hit.
    std::process::exit(3);
}

/// What the "send-batch" child sends, in one batch, at priority 7.
const BATCH: [&[u8]; 4] = [b"m0", b"m1", b"m2", b"m3"];

/// Runs the child `role` on `name`, killed at `point`; asserts it died
/// there and returns its pid.
fn kill_at(point: &str, role: &str, name: &str) -> u32 {
    kill_at_hit(point, 0, role, name)
}

/// As `kill_at`, killed at hit `skip + 1` of `point` (PMQ_FAULT_SKIP).
fn kill_at_hit(point: &str, skip: u32, role: &str, name: &str) -> u32 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "fault_child", "--test-threads=1", "-q"])
        .env(CHILD, format!("{role}:{name}"))
        .env("PMQ_FAULT_KILL", point)
        .env("PMQ_FAULT_SKIP", skip.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "{role} did not reach kill point {point}: {status:?}"
    );
    pid
}

/// A new 8 x 64-byte shm queue named `n` (created exclusively).
fn fresh(n: &str) -> Queue {
    OpenOptions::new()
        .backend(SHM)
        .exclusive(true)
        .max_messages(8)
        .max_message_size(64)
        .open(Some(n))
        .unwrap()
}

fn prefilled(tag: &str) -> (Queue, String) {
    let n = name(tag);
    let q = fresh(&n);
    for (m, p) in [(&b"a"[..], 1), (b"b", 5), (b"c", 1)] {
        q.send(m, p, Timeout::TryOnce).unwrap();
    }
    (q, n)
}

fn drain(q: &Queue) -> Vec<(Vec<u8>, u32)> {
    let mut v = Vec::new();
    while let Ok(m) = q.receive_vec(Timeout::TryOnce) {
        v.push(m);
    }
    v
}

/// After the kill: invariants, exact contents, counters, and the queue
/// still works for the survivors.
fn check(q: &Queue, point: &str, want: &[(&[u8], u32)], committed: u64, received: u64) {
    q.check_invariants()
        .unwrap_or_else(|e| panic!("after a kill at {point}: {e}"));
    let s = q.stats().unwrap();
    assert_eq!(
        (s.committed, s.received),
        (committed, received),
        "counters after a kill at {point}"
    );
    let got = drain(q);
    let want: Vec<(Vec<u8>, u32)> = want.iter().map(|(m, p)| (m.to_vec(), *p)).collect();
    assert_eq!(got, want, "messages after a kill at {point}");
    q.send(b"after", 0, Timeout::TryOnce).unwrap();
    assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().0, b"after");
    q.check_invariants().unwrap();
}

/// Temporary queue files of the creator with this pid.
fn temporaries(pid: u32) -> usize {
    let prefix = format!(".pmq-tmp.{pid}.");
    std::fs::read_dir("/dev/shm")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .count()
}

const SEND_COMMITTED_FROM: &str = "send.committed";
const RECEIVE_COMMITTED_FROM: &str = "receive.committed";

fn at_or_after(points: &[&str], p: &str, from: &str) -> bool {
    let pos = |x: &str| points.iter().position(|q| *q == x).unwrap();
    pos(p) >= pos(from)
}

#[test]
fn every_kill_point_leaves_a_consistent_queue() {
    let points = pmq::__FAULT_POINTS;
    let mut tried = 0;
    for &point in points {
        let (group, _) = point.split_once('.').unwrap();
        let (q, n) = prefilled(group);
        let mut guard = Unlink::on(SHM, n.clone());
        match group {
            "send" => {
                kill_at(point, "send", &n);
                let kept = at_or_after(points, point, SEND_COMMITTED_FROM);
                let mut want: Vec<(&[u8], u32)> =
                    vec![(b"child", 9), (b"b", 5), (b"a", 1), (b"c", 1)];
                if !kept {
                    want.remove(0);
                }
                check(&q, point, &want, 3 + kept as u64, 0);
            }
            "receive" => {
                kill_at(point, "receive", &n);
                let taken = at_or_after(points, point, RECEIVE_COMMITTED_FROM);
                let mut want: Vec<(&[u8], u32)> = vec![(b"b", 5), (b"a", 1), (b"c", 1)];
                if taken {
                    want.remove(0); // the child took the highest priority
                }
                check(&q, point, &want, 3, taken as u64);
            }
            "repair" => {
                // A first child dies inside a lock; a second dies while
                // repairing it; the parent repairs again. The producers'
                // lock: an uncommitted send, repaired by the next send. The
                // consumers' lock: an uncommitted take (relinked), or a
                // committed one whose slot is not handed back yet (freed).
                let (first, touch, want, received): (_, _, &[(&[u8], u32)], _) = match point {
                    "repair.p" => ("send.data", "send", &[(b"b", 5), (b"a", 1), (b"c", 1)], 0),
                    "repair.freeing" => ("receive.committed", "touch", &[(b"a", 1), (b"c", 1)], 1),
                    _ => (
                        "receive.written",
                        "touch",
                        &[(b"b", 5), (b"a", 1), (b"c", 1)],
                        0,
                    ),
                };
                kill_at(
                    first,
                    if first.starts_with("send") {
                        "send"
                    } else {
                        "receive"
                    },
                    &n,
                );
                kill_at(point, touch, &n);
                check(&q, point, want, 3, received);
                assert!(q.stats().unwrap().recoveries >= 1);
            }
            "lease" | "ack" | "nack" => {
                // A leasing child killed inside the lease, the ack or the
                // nack: whatever it held comes back (its holder is dead),
                // at its place; an ack killed after its commit removed it.
                kill_at(point, group, &n);
                let acked = point == "ack.committed";
                let mut want: Vec<(&[u8], u32)> = vec![(b"b", 5), (b"a", 1), (b"c", 1)];
                if acked {
                    want.remove(0);
                }
                assert_eq!(q.lease_stats().unwrap().leased, 0, "after {point}");
                check(&q, point, &want, 3, acked as u64);
            }
            "sweep" => {
                // A receiver killed while it gives back this handle's
                // expired lease: the message is back once, at its place.
                let mut buf = [0u8; 64];
                let (_, _, l) = q
                    .lease(&mut buf, Timeout::TryOnce, Some(Duration::from_millis(1)))
                    .unwrap();
                common::sleep_past_lease_end(Duration::from_millis(1));
                kill_at(point, "touch", &n);
                let e = q.ack(&l).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::LeaseLost, "after {point}: {e}");
                check(&q, point, &[(b"b", 5), (b"a", 1), (b"c", 1)], 3, 0);
            }
            "wake" => {
                // A sender killed after its commit, holding the waiters'
                // registrations it took, before it woke them: the sleeping
                // receiver still gets the message (its sleep is sliced).
                drain(&q);
                let n2 = n.clone();
                let (h, tid) = common::spawn_waiter(move || {
                    open(&n2).receive_vec(Timeout::After(Duration::from_secs(20)))
                });
                common::wait_blocked(tid, SHM);
                kill_at(point, "send", &n);
                let got = h
                    .join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("after {point}: {e}"));
                assert_eq!(got, (b"child".to_vec(), 9), "after a kill at {point}");
                check(&q, point, &[], 4, 4);
            }
            "notify" | "cancel" => {
                kill_at(point, "notify", &n);
                // A dead registrant's registration is replaced.
                let hits = Arc::new(AtomicUsize::new(0));
                let h = Arc::clone(&hits);
                drain(&q);
                q.notify_callback(move || {
                    h.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap_or_else(|e| panic!("register after a kill at {point}: {e}"));
                q.send(b"x", 0, Timeout::TryOnce).unwrap();
                let end = Instant::now() + Duration::from_secs(10);
                while hits.load(Ordering::SeqCst) == 0 && Instant::now() < end {
                    std::thread::sleep(Duration::from_millis(2));
                }
                assert_eq!(hits.load(Ordering::SeqCst), 1, "notification after {point}");
                q.check_invariants().unwrap();
            }
            "create" => {
                let fresh = name("fresh");
                guard.add(SHM, fresh.clone());
                let pid = kill_at(point, "create", &fresh);
                let r = OpenOptions::new().backend(SHM).open(Some(&fresh));
                if point == "create.linked" {
                    // Linked means complete: it opens and works.
                    let f = r.unwrap_or_else(|e| panic!("after {point}: {e}"));
                    f.check_invariants().unwrap();
                    f.send(b"ok", 0, Timeout::TryOnce).unwrap();
                } else {
                    // Not linked: no half-made queue is visible, and the next
                    // create sweeps the dead creator's temporary file.
                    assert_eq!(r.unwrap_err().kind(), ErrorKind::NotFound, "after {point}");
                    assert_eq!(temporaries(pid), 1, "the killed creator left no temporary");
                    let again = name("again");
                    guard.add(SHM, again.clone());
                    OpenOptions::new()
                        .backend(SHM)
                        .exclusive(true)
                        .max_messages(2)
                        .max_message_size(8)
                        .open(Some(&again))
                        .unwrap();
                    assert_eq!(temporaries(pid), 0, "orphaned temporary not swept");
                }
            }
            "open" => {
                kill_at(point, "open", &n);
                // Its opener record is free again (the OFD lock died with it).
                let others: Vec<Queue> = (0..3).map(|_| open(&n)).collect();
                drop(others);
                check(&q, point, &[(b"b", 5), (b"a", 1), (b"c", 1)], 3, 0);
            }
            other => panic!("kill point {point}: no scenario for group {other}"),
        }
        tried += 1;
    }
    assert_eq!(tried, points.len());
    eprintln!("shm fault injection: {tried} kill points, each killed once");
}

/// A batch commits message by message: a sender killed at any point while
/// it sends the third message of a batch of four leaves the first two, and
/// the third only once its slot is committed; a receiver killed taking the
/// third leaves the fourth (and the third until its commit), and its
/// receipt names the last message it took. A point passed once per batch
/// (after the loop) finds the whole batch moved.
#[test]
fn a_batch_killed_midway_keeps_exactly_what_was_committed() {
    let points = pmq::__FAULT_POINTS;
    let mut tried = 0;
    for &point in points {
        let (group, _) = point.split_once('.').unwrap();
        if group != "send" && group != "receive" {
            continue;
        }
        // Per-message points are hit once per message: kill at the third.
        // Taking the lock happens once, before the batch moves anything.
        let before = matches!(point, "send.locked" | "receive.locked");
        let skip = if before { 0 } else { 2 };
        let n = name("batch");
        let _guard = Unlink::on(SHM, n.clone());
        let q = fresh(&n);
        if group == "send" {
            kill_at_hit(point, skip, "send-batch", &n);
            let kept = if before {
                0
            } else {
                2 + at_or_after(points, point, SEND_COMMITTED_FROM) as usize
            };
            let want: Vec<(&[u8], u32)> = BATCH[..kept].iter().map(|m| (*m, 7)).collect();
            check(&q, point, &want, kept as u64, 0);
        } else {
            for m in BATCH {
                q.send(m, 7, Timeout::TryOnce).unwrap();
            }
            kill_at_hit(point, skip, "receive-batch", &n);
            let taken = if before {
                0
            } else {
                2 + at_or_after(points, point, RECEIVE_COMMITTED_FROM) as usize
            };
            // The killed receiver's record is the lowest free one: the next
            // opener inherits its receipt, naming the last message taken
            // (m1 before the third's receipt is written, m2 after).
            let heir = open(&n);
            if before {
                assert_eq!(heir.inherited_receipt(), None, "after a kill at {point}");
                drop(heir);
                check(&q, point, &BATCH.map(|m| (m, 7)), 4, 0);
                tried += 1;
                continue;
            }
            let receipt = heir.inherited_receipt().expect("no receipt");
            let last = if at_or_after(points, point, "receive.written") {
                2
            } else {
                1
            };
            assert_eq!(
                &receipt.head[..2],
                BATCH[last],
                "receipt after a kill at {point}"
            );
            drop(heir);
            let want: Vec<(&[u8], u32)> = BATCH[taken..].iter().map(|m| (*m, 7)).collect();
            check(&q, point, &want, 4, taken as u64);
        }
        tried += 1;
    }
    assert!(tried >= 11, "{tried} batch kill points");
    eprintln!("shm fault injection: {tried} kill points inside a batch, each killed once");
}

/// A dead receiver's receipt passes from heir to heir until one receives:
/// through an heir killed before it acted, and through an heir that closed
/// cleanly without receiving (a handle that only read receipts must not
/// erase them). A handle's own receipt is cleared by its clean close.
#[test]
fn a_receipt_outlives_heirs_until_one_receives_and_a_clean_close_clears_only_its_own() {
    let (q, n) = prefilled("receipt");
    let _guard = Unlink::on(SHM, n.clone());
    // A receiver dies right after it took "b" (priority 5): its record
    // keeps the receipt.
    kill_at("receive.committed", "receive", &n);
    // The next opener claims that record (the lowest free one) and is
    // killed before it received anything or closed: the receipt stays.
    kill_at("send.locked", "open-and-die", &n);
    let heir = open(&n);
    let r = heir
        .inherited_receipt()
        .expect("the receipt of the killed receiver is gone");
    assert_eq!((r.len, r.priority, &r.head[..2]), (1, 5, &b"b\0"[..]));
    // The heir closes cleanly without receiving: the receipt stays.
    drop(heir);
    let next = open(&n);
    assert_eq!(
        next.inherited_receipt(),
        Some(r),
        "a clean close erased a dead receiver's receipt it only carried"
    );
    // A receive replaces it with the handle's own, which a clean close
    // clears: every message this handle took was handed over.
    assert_eq!(next.receive_vec(Timeout::TryOnce).unwrap().0, b"a");
    drop(next);
    let last = open(&n);
    assert_eq!(
        last.inherited_receipt(),
        None,
        "a clean close left the handle's own receipt"
    );
    drop(last);
    check(&q, "receipt", &[(b"c", 1)], 3, 2);
}

/// Processes killed while they wait for the queue's lock (another process
/// holds it, paused inside a send) leave nothing behind: the holder
/// finishes, the queue holds exactly what was committed, and a later sender
/// still wakes a later receiver. Counted over rounds.
#[test]
fn waiters_killed_in_the_lock_wait_lose_no_wakeup() {
    let (q, n) = prefilled("lockwait");
    let _guard = Unlink::on(SHM, n.clone());
    let mut in_lock_wait = 0;
    let rounds = 3;
    for round in 0..rounds {
        let mut holder = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fault_child", "--test-threads=1", "-q"])
            .env(CHILD, format!("send:{n}"))
            .env("PMQ_FAULT_STOP", "send.locked")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Driven by progress, not time: the holder stops itself inside the
        // lock (SIGSTOP at send.locked), so it holds it until resumed.
        let hpid = holder.id() as libc::pid_t;
        let mut ws = 0;
        // SAFETY: waits for our own child to stop (it is not reaped).
        assert_eq!(
            unsafe { libc::waitpid(hpid, &mut ws, libc::WUNTRACED) },
            hpid
        );
        assert!(
            libc::WIFSTOPPED(ws),
            "round {round}: holder not stopped: {ws:#x}"
        );
        let mut waiters: Vec<_> = (0..3)
            .map(|_| {
                // A timed send waits for the lock (a try-once one gives up
                // after a few milliseconds).
                Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "fault_child", "--test-threads=1", "-q"])
                    .env(CHILD, format!("send-timed:{n}"))
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for w in &mut waiters {
            // Until the waiter's test thread sleeps in a futex wait (the
            // lock wait; its main thread waits for the test thread in a
            // futex too, so two of them), bounded only as a failure guard.
            let t0 = Instant::now();
            let mut seen = false;
            while !seen && t0.elapsed() < Duration::from_secs(10) {
                assert!(
                    w.try_wait().unwrap().is_none(),
                    "a waiter got past the held lock"
                );
                seen = std::fs::read_dir(format!("/proc/{}/task", w.id()))
                    .map(|d| {
                        d.flatten()
                            .filter(|t| {
                                std::fs::read_to_string(t.path().join("wchan"))
                                    .is_ok_and(|c| c.contains("futex"))
                            })
                            .count()
                            >= 2
                    })
                    .unwrap_or(false);
                std::thread::yield_now();
            }
            in_lock_wait += seen as usize;
            w.kill().unwrap();
            w.wait().unwrap();
        }
        // SAFETY: resumes our own child.
        assert_eq!(unsafe { libc::kill(hpid, libc::SIGCONT) }, 0);
        // The holder finishes its send (exit code 3: no kill point hit).
        assert_eq!(
            holder.wait().unwrap().code(),
            Some(3),
            "round {round}: the holder"
        );
        q.check_invariants().unwrap();
        let s = q.stats().unwrap();
        assert_eq!(
            s.committed,
            4 + round as u64 * 5,
            "round {round}: only the holder's send"
        );
        // A later receiver, blocked on the queue, is woken by a later sender.
        while q.receive_vec(Timeout::TryOnce).is_ok() {}
        let q2 = open(&n);
        let t = std::thread::spawn(move || q2.receive_vec(Timeout::After(Duration::from_secs(10))));
        std::thread::sleep(Duration::from_millis(30));
        let sender = open(&n);
        sender.send(b"later", 0, Timeout::TryOnce).unwrap();
        let got = t
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("round {round}: not woken: {e}"));
        assert_eq!(got.0, b"later");
        for (m, p) in [(&b"a"[..], 1), (b"b", 5), (b"c", 1)] {
            q.send(m, p, Timeout::TryOnce).unwrap();
        }
    }
    eprintln!(
        "shm lock wait: {} waiters killed in {rounds} rounds ({in_lock_wait} seen in a futex \
         wait), no wake-up lost",
        rounds * 3
    );
    assert_eq!(
        in_lock_wait,
        rounds * 3,
        "a waiter was not seen waiting for the lock"
    );
}

/// `dead_receipts` reports the receipt of every receiver that died, from
/// any handle: one carried on by a live handle that reused the dead one's
/// record (and has not received yet), one in a record nobody reused; not
/// the receipts of live handles. A receipt is written before the take
/// commits: killed after the commit, the message is `taken`; killed between
/// the two, it is `queued`, and once another receiver has taken it since,
/// neither (the repair marked it untaken).
#[test]
fn dead_receipts_name_every_dead_receiver_and_whether_its_take_committed() {
    let n = name("dead");
    let _guard = Unlink::on(SHM, n.clone());
    let q = fresh(&n);
    // Seqs 1..=4.
    for (m, p) in [
        (&b"b-five"[..], 5),
        (b"a-one", 1),
        (b"c-one", 1),
        (b"d-zero", 0),
    ] {
        q.send(m, p, Timeout::TryOnce).unwrap();
    }
    assert_eq!(q.dead_receipts().unwrap(), vec![], "a fresh queue");
    // A live receiver's own receipt is not a dead one's.
    let live = open(&n);
    assert_eq!(live.receive_vec(Timeout::TryOnce).unwrap().0, b"b-five");
    assert_eq!(q.dead_receipts().unwrap(), vec![]);
    // Killed after its take of "a-one" committed.
    let taker = kill_at("receive.committed", "receive", &n);
    // A handle that reads the receipts and closes (claiming the dead
    // record on the way) erases nothing.
    let peek = open(&n);
    assert_eq!(peek.dead_receipts().unwrap().len(), 1);
    drop(peek);
    // A live handle reuses its record (and inherits the receipt) but does
    // not receive: the receipt is still reported, with the dead pid.
    let heir = open(&n);
    assert_eq!(heir.inherited_receipt().unwrap().seq, 2);
    // Killed between writing its receipt for "c-one" and the commit.
    let untaker = kill_at("receive.written", "receive", &n);
    let receipt = |seq: u64, len: u32, priority: u32, text: &[u8]| {
        let mut head = [0u8; 16];
        head[..text.len()].copy_from_slice(text);
        pmq::Receipt {
            seq,
            len,
            priority,
            head,
        }
    };
    let a = pmq::DeadReceipt {
        receipt: receipt(2, 5, 1, b"a-one"),
        pid: taker,
        taken: true,
        queued: false,
    };
    let mut c = pmq::DeadReceipt {
        receipt: receipt(3, 5, 1, b"c-one"),
        pid: untaker,
        taken: false,
        queued: true,
    };
    // Every handle sees the same, and reading changes nothing.
    for h in [&q, &live, &heir, &q] {
        assert_eq!(h.dead_receipts().unwrap(), vec![a, c]);
    }
    q.check_invariants().unwrap();
    // The untaken message is still delivered; its receipt then says so.
    assert_eq!(q.receive_vec(Timeout::TryOnce).unwrap().0, b"c-one");
    c.queued = false;
    assert_eq!(q.dead_receipts().unwrap(), vec![a, c]);
    // The heir's first receive replaces the receipt it carried.
    assert_eq!(heir.receive_vec(Timeout::TryOnce).unwrap().0, b"d-zero");
    assert_eq!(live.dead_receipts().unwrap(), vec![c]);
    drop(live);
    q.close().unwrap();
    assert_eq!(
        q.dead_receipts().unwrap_err().kind(),
        ErrorKind::Closed,
        "after close"
    );
}

/// A queue file truncated to 0 while another process's receive holds its
/// lock (the lock's page itself gone): that receive says
/// Corrupted, and the process goes on using another queue. (glibc's unlock
/// of the zeroed lock leaves the thread's robust list pointing into the old
/// range, so pmq keeps that range mapped, as zeros, instead of unmapping
/// it: the next robust lock of the thread would write there.) Driven by
/// progress: the parent truncates once it sees the lock word held.
#[test]
fn a_file_truncated_while_its_lock_is_held_is_corrupted_and_the_process_goes_on() {
    let (n, n2) = (name("trunc-locked"), name("trunc-other"));
    let _u = {
        let mut u = Unlink::on(SHM, n.clone());
        u.add(SHM, n2.clone());
        u
    };
    for q in [&n, &n2] {
        OpenOptions::new()
            .backend(SHM)
            .exclusive(true)
            .max_messages(4)
            .max_message_size(16)
            .open(Some(q))
            .unwrap()
            .send(b"x", 3, Timeout::TryOnce)
            .unwrap();
    }
    let path = format!("/dev/shm/pmq.{}", &n[1..]);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "fault_child", "--test-threads=1", "-q"])
        .env(CHILD, format!("truncated-while-locked:{n},{n2}"))
        .env("PMQ_FAULT_PAUSE", "receive.locked")
        .env("PMQ_FAULT_PAUSE_MS", "3000")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The consumers' lock word (offset 256) holds the owner's thread id
    // while held.
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut held = false;
    while child.try_wait().unwrap().is_none() {
        let mut w = [0u8; 4];
        f.read_exact_at(&mut w, 256).unwrap();
        if u32::from_ne_bytes(w) != 0 {
            held = true;
            f.set_len(0).unwrap();
            break;
        }
        std::thread::yield_now();
    }
    let status = child.wait().unwrap();
    assert!(held, "the child ended before it held the lock: {status:?}");
    assert_eq!(status.code(), Some(0), "the child: {status:?}");
}

/// A process stopped (SIGSTOP) while it holds the queue's
/// lock never makes another call outlast its timeout: a try-once call
/// returns WouldBlock within milliseconds, a timed call TimedOut at its
/// deadline, a blocking call ends when its handle is closed. After SIGCONT
/// the holder finishes and nothing is lost. The holder stops itself at a
/// kill point inside the lock (PMQ_FAULT_STOP), so the test is driven by
/// where the holder is, not by time. Before the fix each call waited 10 s.
#[test]
fn a_stopped_lock_holder_does_not_stretch_timeouts() {
    let (q, n) = prefilled("stopped");
    let _guard = Unlink::on(SHM, n.clone());
    // A sender stopped inside the producers' lock, then a receiver stopped
    // inside the consumers' lock: calls of the stopped side end within
    // their patience; calls of the other side do not wait at all.
    for (round, (role, point)) in [("send", "send.locked"), ("receive", "receive.locked")]
        .into_iter()
        .enumerate()
    {
        let sending = role == "send";
        let mut holder = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fault_child", "--test-threads=1", "-q"])
            .env(CHILD, format!("{role}:{n}"))
            .env("PMQ_FAULT_STOP", point)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let pid = holder.id() as libc::pid_t;
        // A failed check must not leave the holder stopped forever.
        struct KillOnPanic(libc::pid_t);
        impl Drop for KillOnPanic {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    // SAFETY: signals our own child.
                    unsafe { libc::kill(self.0, libc::SIGKILL) };
                }
            }
        }
        let _kill = KillOnPanic(pid);
        let mut ws = 0;
        // SAFETY: waits for our own child to stop (it is not reaped).
        assert_eq!(unsafe { libc::waitpid(pid, &mut ws, libc::WUNTRACED) }, pid);
        assert!(
            libc::WIFSTOPPED(ws),
            "round {round}: holder not stopped: {ws:#x}"
        );
        // The queue has messages and room: only the lock is in the way.
        let blocked = |t: Timeout| {
            if sending {
                q.send(b"x", 0, t).map(|_| ())
            } else {
                q.receive_vec(t).map(|_| ())
            }
        };
        let t0 = Instant::now();
        let e = blocked(Timeout::TryOnce).unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::WouldBlock, "round {round}: {e}");
        assert!(e.to_string().contains("lock"), "round {round}: {e}");
        assert!(
            took < Duration::from_millis(200),
            "try-once {role} took {took:?}"
        );
        // The other side has its own lock: it moves a message at once.
        if sending {
            assert_eq!(
                q.receive_vec(Timeout::TryOnce).unwrap(),
                (b"b".to_vec(), 5),
                "round {round}"
            );
            q.dead_receipts().unwrap();
        } else {
            q.send(b"d", 0, Timeout::TryOnce).unwrap();
            // Reading dead receipts is a try-once call under the
            // consumers' lock.
            let t0 = Instant::now();
            let e = q.dead_receipts().unwrap_err();
            let took = t0.elapsed();
            assert_eq!(e.kind(), ErrorKind::WouldBlock, "round {round}: {e}");
            assert!(
                took < Duration::from_millis(200),
                "dead_receipts took {took:?}"
            );
        }
        let t0 = Instant::now();
        let e = blocked(Timeout::After(Duration::from_millis(300))).unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "round {round}: {e}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(3000),
            "timed {role} (300 ms) took {took:?}"
        );
        // A blocking call of the stopped side on another handle ends when
        // that handle closes.
        let q2 = Arc::new(open(&n));
        let r = {
            let q2 = Arc::clone(&q2);
            std::thread::spawn(move || {
                if sending {
                    q2.send(b"y", 0, Timeout::Forever).map(|_| ())
                } else {
                    q2.receive_vec(Timeout::Forever).map(|_| ())
                }
            })
        };
        // Closed while the call waits for the lock or before it starts:
        // either way it ends with Closed.
        q2.close().unwrap();
        let e = r.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Closed, "round {round}: {e}");
        // SAFETY: resumes our own child.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
        // The holder finishes its call (exit code 3: no kill point hit).
        assert_eq!(holder.wait().unwrap().code(), Some(3), "round {round}");
        q.check_invariants().unwrap();
        let mut got = Vec::new();
        while let Ok((m, p)) = q.receive_vec(Timeout::TryOnce) {
            got.push((m, p));
        }
        // Round 0: the stopped sender's message joined the queue after our
        // receive took "b". Round 1: the stopped receiver took "b"; our
        // send added "d".
        let want: Vec<(Vec<u8>, u32)> = if sending {
            vec![
                (b"child".to_vec(), 9),
                (b"a".to_vec(), 1),
                (b"c".to_vec(), 1),
            ]
        } else {
            vec![(b"a".to_vec(), 1), (b"c".to_vec(), 1), (b"d".to_vec(), 0)]
        };
        assert_eq!(got, want, "round {round}");
        for (m, p) in [(&b"a"[..], 1), (b"b", 5), (b"c", 1)] {
            q.send(m, p, Timeout::TryOnce).unwrap();
        }
    }
}

/// The other side of the stopped-holder rule: a holder that is merely slow
/// (running or sleeping inside the lock, as a process descheduled on a
/// loaded machine is) is waited for by a try-once call, up to 250 ms, so
/// try-once keeps meaning "the queue is empty or full", not "the machine
/// was busy". The holder pauses 60 ms inside the lock (well past the 10 ms
/// a stopped holder costs); driven by progress: the try-once receive starts
/// once the lock word shows the holder inside.
#[test]
fn a_try_once_call_waits_for_a_running_lock_holder() {
    let (q, n) = prefilled("slow-holder");
    let _guard = Unlink::on(SHM, n.clone());
    let path = format!("/dev/shm/pmq.{}", &n[1..]);
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(&path).unwrap();
    for round in 0..3 {
        let mut holder = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fault_child", "--test-threads=1", "-q"])
            .env(CHILD, format!("receive:{n}"))
            .env("PMQ_FAULT_PAUSE", "receive.locked")
            .env("PMQ_FAULT_PAUSE_MS", "60")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The consumers' lock word (offset 256) holds the owner's thread
        // id while held.
        let mut held = false;
        while holder.try_wait().unwrap().is_none() {
            let mut w = [0u8; 4];
            f.read_exact_at(&mut w, 256).unwrap();
            if u32::from_ne_bytes(w) != 0 {
                held = true;
                break;
            }
            std::thread::yield_now();
        }
        assert!(
            held,
            "round {round}: the holder ended before it held the lock"
        );
        let got = q.receive_vec(Timeout::TryOnce);
        let status = holder.wait().unwrap();
        assert!(status.code().is_some(), "round {round}: holder {status:?}");
        let (m, p) = got.unwrap_or_else(|e| panic!("round {round}: {e}"));
        // The holder took "b" (5) or, if the parent was first, "a" (1).
        assert!(p == 5 || p == 1, "round {round}: got {m:?} at {p}");
        // Back to the three prefilled messages for the next round.
        while q.receive_vec(Timeout::TryOnce).is_ok() {}
        for (m, p) in [(&b"a"[..], 1), (b"b", 5), (b"c", 1)] {
            q.send(m, p, Timeout::TryOnce).unwrap();
        }
    }
}
