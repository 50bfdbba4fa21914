//! Kill a process at every named kill point inside the shared-memory
//! backend's critical sections (send, receive, repair, notification
//! registration, create, opener registration) and check what survivors see:
//! the invariants hold, a message committed before the kill is there exactly
//! once, one that was not committed is not, and the survivors go on working.
//! Needs `--features fault-injection` (make test runs it so).
#![cfg(feature = "fault-injection")]

#[path = "support/prefix.rs"]
mod prefix;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmq::{BackendKind, ErrorKind, OpenOptions, Queue, Timeout};

const SHM: BackendKind = BackendKind::Shm;
const CHILD: &str = "PMQ_FAULT_CHILD";

struct Unlink(Vec<String>);
impl Drop for Unlink {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = pmq::unlink_from(SHM, n);
        }
    }
}

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
        "touch" => {
            let _ = open(name).receive_vec(Timeout::TryOnce);
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

fn prefilled(tag: &str) -> (Queue, String) {
    let n = name(tag);
    let q = OpenOptions::new()
        .backend(SHM)
        .exclusive(true)
        .max_messages(8)
        .max_message_size(64)
        .open(Some(&n))
        .unwrap();
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
        let mut guard = Unlink(vec![n.clone()]);
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
                // A first child dies inside the lock (uncommitted send); a
                // second dies while repairing; the parent repairs again.
                kill_at("send.data", "send", &n);
                kill_at(point, "touch", &n);
                check(&q, point, &[(b"b", 5), (b"a", 1), (b"c", 1)], 3, 0);
                assert!(q.stats().unwrap().recoveries >= 1);
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
                guard.0.push(fresh.clone());
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
                    guard.0.push(again.clone());
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
        // The ".moved" points are passed once, after the whole batch.
        let per_batch = point.ends_with(".moved");
        let skip = if per_batch { 0 } else { 2 };
        let n = name("batch");
        let _guard = Unlink(vec![n.clone()]);
        let q = OpenOptions::new()
            .backend(SHM)
            .exclusive(true)
            .max_messages(8)
            .max_message_size(64)
            .open(Some(&n))
            .unwrap();
        if group == "send" {
            kill_at_hit(point, skip, "send-batch", &n);
            let kept = if per_batch {
                4
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
            let taken = if per_batch {
                4
            } else {
                2 + at_or_after(points, point, RECEIVE_COMMITTED_FROM) as usize
            };
            // The killed receiver's record is the lowest free one: the next
            // opener inherits its receipt, naming the last message taken
            // (m1 before the third's receipt is written, m2 after).
            let heir = open(&n);
            let receipt = heir.inherited_receipt().expect("no receipt");
            let last = if per_batch {
                3
            } else if at_or_after(points, point, "receive.pending") {
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
    assert!(tried >= 16, "{tried} batch kill points");
    eprintln!("shm fault injection: {tried} kill points inside a batch, each killed once");
}

#[test]
fn a_receipt_outlives_an_heir_killed_before_it_acted_and_a_clean_close_clears_it() {
    let (q, n) = prefilled("receipt");
    let _guard = Unlink(vec![n.clone()]);
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
    // A clean close means every message taken was handed over: no receipt.
    drop(heir);
    let next = open(&n);
    assert_eq!(
        next.inherited_receipt(),
        None,
        "a clean close left a receipt"
    );
    // A receive replaces an inherited receipt with the handle's own.
    drop(next);
    check(&q, "receipt", &[(b"a", 1), (b"c", 1)], 3, 1);
}

/// Processes killed while they wait for the queue's lock (another process
/// holds it, paused inside a send) leave nothing behind: the holder
/// finishes, the queue holds exactly what was committed, and a later sender
/// still wakes a later receiver. Counted over rounds.
#[test]
fn waiters_killed_in_the_lock_wait_lose_no_wakeup() {
    let (q, n) = prefilled("lockwait");
    let _guard = Unlink(vec![n.clone()]);
    let mut in_lock_wait = 0;
    let rounds = 3;
    for round in 0..rounds {
        let mut holder = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "fault_child", "--test-threads=1", "-q"])
            .env(CHILD, format!("send:{n}"))
            .env("PMQ_FAULT_PAUSE", "send.locked")
            .env("PMQ_FAULT_PAUSE_MS", "600")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(100)); // it holds the lock now
        let mut waiters: Vec<_> = (0..3)
            .map(|_| {
                Command::new(std::env::current_exe().unwrap())
                    .args(["--exact", "fault_child", "--test-threads=1", "-q"])
                    .env(CHILD, format!("send:{n}"))
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::thread::sleep(Duration::from_millis(200));
        for w in &mut waiters {
            assert!(
                w.try_wait().unwrap().is_none(),
                "a waiter got past the held lock"
            );
            let wchan =
                std::fs::read_to_string(format!("/proc/{}/wchan", w.id())).unwrap_or_default();
            in_lock_wait += wchan.contains("futex") as usize;
            w.kill().unwrap();
            w.wait().unwrap();
        }
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
    assert!(in_lock_wait > 0, "no waiter was seen waiting for the lock");
}
