//! Tests of the layout-3 store: order, bounds, kills aimed inside each
//! lock (P and C, and inside each repair), and a kill torture whose
//! liveness check is driven by progress.

use super::*;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8};

thread_local! {
    /// A point to die at, and the hits to let pass first.
    static AIM: Cell<Option<(&'static str, u32)>> = const { Cell::new(None) };
}

/// The hook of `at!`: SIGKILLs this process at the aimed point.
pub(super) fn hit(name: &'static str) {
    AIM.with(|a| {
        if let Some((p, skip)) = a.get() {
            if p == name {
                if skip == 0 {
                    // SAFETY: no preconditions; the process dies here.
                    unsafe { libc::raise(libc::SIGKILL) };
                }
                a.set(Some((p, skip - 1)));
            }
        }
    });
}

use crate::backend::shm::lock::tests::shared_bytes;

fn queue(cap: u64, msgsize: u64) -> Ring<'static> {
    let g = Shape::new(cap, msgsize).unwrap();
    let base = shared_bytes(g.file_size);
    // Known to the SIGBUS guard, as a queue's mapping is (a sleeper whose
    // word lies in no known mapping treats it as damaged and wakes).
    crate::backend::shm::bus::register(base as usize, g.file_size).expect("guard entry");
    // SAFETY: a page-aligned mapping of the whole geometry, never unmapped.
    let r = unsafe { Ring::new(base, g.file_size, g, -1) }.unwrap();
    r.init();
    r
}

fn recv(r: &Ring<'_>) -> Result<(Vec<u8>, u32), Fault> {
    let mut buf = vec![0u8; r.g.msgsize as usize];
    r.try_receive(&mut buf, 0, None).map(|t| {
        buf.truncate(t.len);
        (buf, t.prio)
    })
}

#[test]
fn priority_order_with_fifo_within_a_priority() {
    let r = queue(16, 8);
    for (i, p) in [1u32, 5, 1, 7, 5, 0, 7].iter().enumerate() {
        r.try_send(&[i as u8], *p, None).unwrap();
    }
    let got: Vec<(u8, u32)> = (0..7)
        .map(|_| recv(&r).map(|(b, p)| (b[0], p)).unwrap())
        .collect();
    assert_eq!(
        got,
        [(3, 7), (6, 7), (1, 5), (4, 5), (0, 1), (2, 1), (5, 0)]
    );
    assert_eq!(recv(&r), Err(Fault::Empty));
    assert_eq!(r.counters(), (7, 7, 0));
}

/// Interleaved sends and receives with priorities that fall, stay and
/// rise (so receives take both the direct path at H and the index),
/// checked against a reference: highest priority first, FIFO within one.
#[test]
fn interleaved_sends_and_receives_keep_priority_order() {
    let r = queue(32, 8);
    let mut model = std::collections::BTreeMap::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut direct_and_indexed = (0, 0);
    for i in 0..20_000u64 {
        let queued = model.len();
        if queued < 32 && (queued == 0 || rnd() % 2 == 0) {
            // Runs of equal or falling priorities, with an occasional rise.
            let prio = match rnd() % 8 {
                0 => (rnd() % 5) as u32,
                _ => model
                    .keys()
                    .next()
                    .map_or(2, |&(p, _): &(u32, u64)| u32::MAX - p),
            };
            r.try_send(&i.to_ne_bytes(), prio, None).unwrap();
            model.insert((u32::MAX - prio, i), prio);
        } else {
            let indexed_before = r.head.consumers.0.indexed.load(Ordering::Relaxed);
            let (b, p) = recv(&r).unwrap();
            let ((_, seq), want) = model.pop_first().unwrap();
            assert_eq!(
                (u64::from_ne_bytes(b[..8].try_into().unwrap()), p),
                (seq, want)
            );
            if indexed_before == 0 && r.head.consumers.0.indexed.load(Ordering::Relaxed) == 0 {
                direct_and_indexed.0 += 1;
            } else {
                direct_and_indexed.1 += 1;
            }
        }
    }
    assert!(
        direct_and_indexed.0 > 1000 && direct_and_indexed.1 > 1000,
        "both paths taken: {direct_and_indexed:?}"
    );
}

#[test]
fn full_and_empty_and_the_counters_are_derived() {
    let r = queue(4, 8);
    for lap in 0..5u8 {
        for i in 0..4u8 {
            r.try_send(&[lap, i], 3, None).unwrap();
        }
        assert_eq!(r.try_send(b"x", 3, None), Err(Fault::Full));
        let (sent, received, count) = r.counters();
        assert_eq!((sent - received, count), (4, 4));
        for i in 0..4u8 {
            assert_eq!(recv(&r).unwrap(), (vec![lap, i], 3));
        }
        assert_eq!(recv(&r), Err(Fault::Empty));
    }
    assert_eq!(r.counters(), (20, 20, 0));
    assert_eq!(
        r.receipt(0).unwrap().0,
        20,
        "the receipt names the last message taken"
    );
}

#[test]
fn scribbled_positions_and_cells_are_corrupt_not_a_crash() {
    let r = queue(4, 8);
    r.try_send(b"a", 1, None).unwrap();
    r.head.producers.0.p.store(1000, Ordering::Relaxed);
    assert!(matches!(recv(&r), Err(Fault::Corrupt(_))));
    r.head.producers.0.p.store(2, Ordering::Relaxed);
    let cell = r.ring[1].load(Ordering::Relaxed);
    r.ring[1].store(99, Ordering::Relaxed);
    assert!(matches!(recv(&r), Err(Fault::Corrupt(_))));
    r.ring[1].store(cell, Ordering::Relaxed);
    assert_eq!(recv(&r).unwrap().0, b"a");
}

/// A fork child's whole life: dies with the test process, and never
/// unwinds into the test harness (a panic exits with status 101).
fn child_body(f: impl FnOnce()) -> ! {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    // SAFETY: no preconditions.
    unsafe { libc::_exit(if r.is_ok() { 0 } else { 101 }) }
}

/// Runs `f` in a fork child aimed to die at `point` (after `skip` hits);
/// returns whether it died there (false: `f` ran to its end).
fn die_at(point: &'static str, skip: u32, f: impl FnOnce()) -> bool {
    // SAFETY: the child runs `f` (the store's calls) and exits with
    // _exit; it never returns into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        child_body(|| {
            AIM.with(|a| a.set(Some((point, skip))));
            f();
        })
    }
    let mut st = 0;
    // SAFETY: our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut st, 0) }, pid);
    libc::WIFSIGNALED(st) && libc::WTERMSIG(st) == libc::SIGKILL
}

const SEND_POINTS: [(&str, bool); 5] = [
    // (point, the message is committed when the sender dies there)
    ("send.locked", false),
    ("send.header", false),
    ("send.data", false),
    ("send.committed", true),
    ("send.published", true),
];

#[test]
fn a_sender_killed_inside_the_p_lock_loses_only_an_uncommitted_message() {
    for (point, committed) in SEND_POINTS {
        let r = queue(4, 8);
        r.try_send(b"before", 2, None).unwrap();
        assert!(die_at(point, 0, || {
            let _ = r.try_send(b"killed", 9, None);
        }));
        // The next send repairs P and goes on.
        r.try_send(b"after", 2, None).unwrap();
        let mut got = Vec::new();
        while let Ok((m, _)) = recv(&r) {
            got.push(String::from_utf8(m).unwrap());
        }
        let want: &[&str] = if committed {
            &["killed", "before", "after"]
        } else {
            &["before", "after"]
        };
        assert_eq!(got, want, "killed at {point}");
        assert_eq!(r.recoveries().0, 1, "{point}");
        let (sent, received, count) = r.counters();
        assert_eq!(
            (sent, received, count),
            (want.len() as u64, want.len() as u64, 0),
            "{point}"
        );
    }
}

#[test]
fn a_committed_send_of_a_dead_sender_is_seen_by_a_receive_without_another_send() {
    let r = queue(4, 8);
    assert!(die_at("send.committed", 0, || {
        let _ = r.try_send(b"last", 1, None);
    }));
    // No sender comes: the receive repairs the producers' side itself.
    assert_eq!(recv(&r).unwrap().0, b"last");
}

const RECEIVE_POINTS: [(&str, bool); 6] = [
    // (point, the message is taken when the receiver dies there)
    ("receive.locked", false),
    ("receive.drained", false),
    ("receive.receipt", false),
    ("receive.written", false),
    ("receive.committed", true),
    ("receive.freed", true),
];

#[test]
fn a_receiver_killed_inside_the_c_lock_takes_exactly_a_committed_message() {
    for (point, taken) in RECEIVE_POINTS {
        let r = queue(4, 8);
        for m in [&b"one"[..], b"two", b"three"] {
            r.try_send(m, 4, None).unwrap();
        }
        assert!(die_at(point, 0, || {
            let _ = recv(&r);
        }));
        let mut got = Vec::new();
        while let Ok((m, _)) = recv(&r) {
            got.push(String::from_utf8(m).unwrap());
        }
        let want: &[&str] = if taken {
            &["two", "three"]
        } else {
            &["one", "two", "three"]
        };
        assert_eq!(got, want, "killed at {point}");
        assert_eq!(r.recoveries().1, 1, "{point}");
        // Every slot is back: the queue takes `capacity` messages again.
        for i in 0..4u8 {
            r.try_send(&[i], 0, None).unwrap();
        }
        assert_eq!(r.try_send(b"x", 0, None), Err(Fault::Full), "{point}");
        assert_eq!(r.counters().2, 4, "{point}");
    }
}

#[test]
fn a_slot_of_a_receiver_killed_after_its_commit_comes_back_to_a_full_queue() {
    let r = queue(2, 8);
    r.try_send(b"a", 0, None).unwrap();
    r.try_send(b"b", 0, None).unwrap();
    assert!(die_at("receive.committed", 0, || {
        let _ = recv(&r);
    }));
    // No receiver comes: the send repairs the consumers' side itself.
    r.try_send(b"c", 0, None).unwrap();
    assert_eq!(recv(&r).unwrap().0, b"b");
    assert_eq!(recv(&r).unwrap().0, b"c");
}

#[test]
fn a_repairer_killed_inside_its_repair_leaves_it_to_the_next() {
    for point in ["repair.c", "repair.freeing", "repair.relinking"] {
        let r = queue(4, 8);
        for m in [&b"one"[..], b"two"] {
            r.try_send(m, 4, None).unwrap();
        }
        assert!(die_at("receive.committed", 0, || {
            let _ = recv(&r);
        }));
        assert!(die_at(point, 0, || {
            let _ = recv(&r);
        }));
        assert_eq!(recv(&r).unwrap().0, b"two", "{point}");
        assert_eq!(recv(&r), Err(Fault::Empty), "{point}");
        for i in 0..4u8 {
            r.try_send(&[i], 0, None).unwrap();
        }
        assert_eq!(r.try_send(b"x", 0, None), Err(Fault::Full), "{point}");
    }
    let r = queue(4, 8);
    assert!(die_at("send.committed", 0, || {
        let _ = r.try_send(b"one", 1, None);
    }));
    assert!(die_at("repair.p", 0, || {
        let _ = r.try_send(b"two", 1, None);
    }));
    r.try_send(b"three", 1, None).unwrap();
    let got: Vec<_> = (0..2).map(|_| recv(&r).unwrap().0).collect();
    assert_eq!(got, [b"one".to_vec(), b"three".to_vec()]);
}

/// A receiver in a blocking receive loop on another thread; its result
/// comes back through a channel (so a hang fails the test at `within`
/// instead of hanging it).
fn receive_on_thread(
    r: &'static Ring<'static>,
    closing: &'static AtomicBool,
) -> std::sync::mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = std::sync::mpsc::channel();
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || loop {
        let _ = tid_tx.send(gettid());
        match recv(r) {
            Ok((m, _)) => break tx.send(Some(m)).unwrap(),
            Err(Fault::Empty) if closing.load(Ordering::SeqCst) => break tx.send(None).unwrap(),
            Err(Fault::Empty) => {
                r.wait(true, None, closing, true);
            }
            Err(e) => panic!("{e:?}"),
        }
    });
    // Asleep in the kernel on the futex word (not merely registered: a
    // sleeper that has not slept yet would see the send by itself).
    let tid = tid_rx.recv().unwrap();
    loop {
        let wchan =
            std::fs::read_to_string(format!("/proc/self/task/{tid}/wchan")).unwrap_or_default();
        if r.head.receivers.0.waiters.load(Ordering::SeqCst) != 0 && wchan.contains("futex") {
            break;
        }
        std::thread::yield_now();
    }
    rx
}

fn gettid() -> i64 {
    // SAFETY: no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

const WITHIN: Duration = Duration::from_secs(30);

#[test]
fn a_waker_killed_between_its_commit_and_its_wake_delays_a_sleeper_only() {
    for point in ["send.published", "wake.taken"] {
        let r: &'static Ring<'static> = Box::leak(Box::new(queue(4, 8)));
        let never: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        let rx = receive_on_thread(r, never);
        assert!(die_at(point, 0, || {
            let _ = r.try_send(b"woken", 1, None);
        }));
        assert_eq!(
            rx.recv_timeout(WITHIN).expect("the sleeper looked again"),
            Some(b"woken".to_vec()),
            "{point}"
        );
    }
}

#[test]
fn close_wakes_a_sleeping_receiver() {
    let r: &'static Ring<'static> = Box::leak(Box::new(queue(4, 8)));
    let closing: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let rx = receive_on_thread(r, closing);
    closing.store(true, Ordering::SeqCst);
    r.wake_everyone();
    assert_eq!(rx.recv_timeout(WITHIN).expect("woken by the close"), None);
}

// ------------------------------------------------------------- torture

const NP: usize = 2;
const NC: usize = 2;

/// The ledger the torture's processes share.
struct Ledger {
    attempt: [AtomicU64; NP],
    done: [AtomicU64; NP],
    received: AtomicU64,
    fifo_violations: AtomicU64,
    bad: AtomicU64,
    /// Counters each producer may use.
    maxk: usize,
    seen: *mut AtomicU8, // NP * maxk
}

fn ledger(maxk: usize) -> &'static Ledger {
    let l = shared_bytes(std::mem::size_of::<Ledger>()).cast::<Ledger>();
    let seen = shared_bytes(NP * maxk).cast::<AtomicU8>();
    // SAFETY: zeroed shared memory for the ledger's atomics; `seen` set
    // before any child is forked.
    unsafe {
        (*l).seen = seen;
        (*l).maxk = maxk;
        &*l
    }
}

impl Ledger {
    fn seen(&self, p: usize, k: u64) -> &AtomicU8 {
        assert!(p < NP && (k as usize) < self.maxk);
        // SAFETY: inside the NP * maxk array.
        unsafe { &*self.seen.add(p * self.maxk + k as usize) }
    }
}

fn producer(r: &Ring<'_>, l: &Ledger, p: usize) -> ! {
    let never = AtomicBool::new(false);
    // The counter a killed predecessor may have committed is skipped.
    let mut k = l.attempt[p].load(Ordering::SeqCst) + 1;
    while (k as usize) < l.maxk {
        l.attempt[p].store(k, Ordering::SeqCst);
        let mut m = [0u8; 16];
        m[..8].copy_from_slice(&(p as u64).to_ne_bytes());
        m[8..].copy_from_slice(&k.to_ne_bytes());
        loop {
            match r.try_send(&m, (k % 4) as u32, None) {
                Ok(_) => break,
                Err(Fault::Full) => {
                    r.wait(false, None, &never, true);
                }
                Err(e) => panic!("send: {e:?}"),
            }
        }
        l.done[p].store(k, Ordering::SeqCst);
        k += 1;
    }
    // Out of counters: the parent sees no progress and says so.
    loop {
        // SAFETY: no preconditions.
        unsafe { libc::pause() };
    }
}

fn consumer(r: &Ring<'_>, l: &Ledger, c: u32) -> ! {
    let never = AtomicBool::new(false);
    let mut last = [[0u64; 4]; NP];
    let mut buf = [0u8; 16];
    loop {
        match r.try_receive(&mut buf, c, None) {
            Ok(t) => {
                let p = u64::from_ne_bytes(buf[..8].try_into().unwrap()) as usize;
                let k = u64::from_ne_bytes(buf[8..].try_into().unwrap());
                if t.len != 16 || p >= NP || k as usize >= l.maxk || u64::from(t.prio) != k % 4 {
                    l.bad.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                if k <= last[p][t.prio as usize] {
                    l.fifo_violations.fetch_add(1, Ordering::SeqCst);
                }
                last[p][t.prio as usize] = k;
                l.seen(p, k).fetch_add(1, Ordering::SeqCst);
                l.received.fetch_add(1, Ordering::SeqCst);
            }
            Err(Fault::Empty) => {
                r.wait(true, None, &never, true);
            }
            Err(e) => panic!("receive: {e:?}"),
        }
    }
}

/// What a killed child may have left unrecorded: a sender's message in
/// flight (committed or not), a receiver's last take (its receipt).
fn bury(
    r: &Ring<'_>,
    l: &Ledger,
    role: usize,
    in_flight: &mut Vec<(usize, u64)>,
    taken_by_dead: &mut Vec<(usize, u64)>,
) {
    if role < NP {
        in_flight.push((role, l.attempt[role].load(Ordering::SeqCst)));
    } else {
        let (_, len, _, head) = r.receipt((role - NP) as u32).unwrap();
        if len == 16 {
            let p = u64::from_ne_bytes(head[..8].try_into().unwrap()) as usize;
            let k = u64::from_ne_bytes(head[8..].try_into().unwrap());
            taken_by_dead.push((p, k));
        }
    }
}

#[test]
fn kill_torture_loses_nothing_and_always_makes_progress() {
    // PMQ_RING_KILLS=N for a longer run (TESTING.md has the figures);
    // PMQ_RING_MINUTES=M ends it after M minutes of kills instead (the
    // liveness run: at most PMQ_RING_KILLS, default 200,000, kills).
    let minutes: Option<u64> = std::env::var("PMQ_RING_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok());
    let kills: usize = std::env::var("PMQ_RING_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if minutes.is_some() { 200_000 } else { 300 });
    let until = minutes.map(|m| std::time::Instant::now() + Duration::from_secs(60 * m));
    /// Messages received between two kills (the progress that drives them).
    const STEP: u64 = 1500;
    let r = queue(8, 16);
    // Producers run ahead of the kills; room for 16 x STEP a kill.
    let l = ledger((kills * STEP as usize * 16).max(1 << 23));
    let spawn = |role: usize| -> libc::pid_t {
        // SAFETY: the child runs the store's calls forever (until killed).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            child_body(|| {
                if role < NP {
                    producer(&r, l, role)
                } else {
                    consumer(&r, l, (role - NP) as u32)
                }
            })
        }
        pid
    };
    let mut kids: Vec<libc::pid_t> = (0..NP + NC).map(spawn).collect();
    let mut taken_by_dead = Vec::new();
    let mut in_flight = Vec::new();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let run = std::time::Instant::now();
    let mut slowest = Duration::ZERO;
    let mut done = 0;
    for _ in 0..kills {
        if until.is_some_and(|u| std::time::Instant::now() >= u) {
            break;
        }
        done += 1;
        // Liveness: every kill is followed by STEP more messages within
        // 5 s (the study's prototype once stalled 5 s after a kill).
        let target = l.received.load(Ordering::SeqCst) + STEP;
        let start = std::time::Instant::now();
        while l.received.load(Ordering::SeqCst) < target {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "a stall: no {STEP} messages within 5 s of a kill: {:?} counters {:?}",
                l.received.load(Ordering::SeqCst),
                r.counters()
            );
            std::thread::yield_now();
        }
        slowest = slowest.max(start.elapsed());
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let role = (rng % (NP + NC) as u64) as usize;
        // SAFETY: our own child.
        unsafe {
            libc::kill(kids[role], libc::SIGKILL);
            libc::waitpid(kids[role], std::ptr::null_mut(), 0);
        }
        bury(&r, l, role, &mut in_flight, &mut taken_by_dead);
        kids[role] = spawn(role);
    }
    // The last kills are kills too: a consumer killed between its commit
    // and its ledger entry has the message only in its receipt, a producer
    // its message in flight.
    for (role, &pid) in kids.iter().enumerate() {
        // SAFETY: our own children.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            libc::waitpid(pid, std::ptr::null_mut(), 0);
        }
        bury(&r, l, role, &mut in_flight, &mut taken_by_dead);
    }
    eprintln!(
        "ring torture: {done} kills in {:?}; the slowest {STEP} messages after a kill took {slowest:?}",
        run.elapsed()
    );
    // Drain what is left here.
    let mut buf = [0u8; 16];
    while let Ok(t) = r.try_receive(&mut buf, NC as u32, None) {
        assert_eq!(t.len, 16);
        let p = u64::from_ne_bytes(buf[..8].try_into().unwrap()) as usize;
        let k = u64::from_ne_bytes(buf[8..].try_into().unwrap());
        l.seen(p, k).fetch_add(1, Ordering::SeqCst);
    }
    let (mut lost, mut dup) = (0, 0);
    for p in 0..NP {
        for k in 1..=l.done[p].load(Ordering::SeqCst) {
            match l.seen(p, k).load(Ordering::SeqCst) {
                0 if !taken_by_dead.contains(&(p, k)) && !in_flight.contains(&(p, k)) => lost += 1,
                0 | 1 => {}
                _ => dup += 1,
            }
        }
    }
    let (sent, received, count) = r.counters();
    assert_eq!((lost, dup), (0, 0), "lost / duplicated");
    assert_eq!(l.fifo_violations.load(Ordering::SeqCst), 0);
    assert_eq!(l.bad.load(Ordering::SeqCst), 0);
    assert_eq!(count, 0);
    assert_eq!(sent, received);
    let (rp, rc) = r.recoveries();
    eprintln!("torture: {done} kills, {received} messages, repairs P {rp} C {rc}");
}

#[test]
fn a_rise_sent_after_p_was_last_read_is_taken_first() {
    // The direct path takes the message at H below the P it read last
    // (p_seen) without reading P again: a later send that rises above the
    // priority before it must still be seen by the next receive.
    let r = queue(8, 8);
    r.try_send(b"a", 1, None).unwrap();
    r.try_send(b"b", 1, None).unwrap();
    assert_eq!(recv(&r).unwrap(), (b"a".to_vec(), 1));
    // p_seen is now past "b": "c" rises above it.
    r.try_send(b"c", 9, None).unwrap();
    assert_eq!(recv(&r).unwrap(), (b"c".to_vec(), 9));
    assert_eq!(recv(&r).unwrap(), (b"b".to_vec(), 1));
    // A falling priority needs no rise: FIFO with the direct path.
    r.try_send(b"d", 5, None).unwrap();
    r.try_send(b"e", 5, None).unwrap();
    assert_eq!(recv(&r).unwrap(), (b"d".to_vec(), 5));
    r.try_send(b"f", 2, None).unwrap();
    assert_eq!(recv(&r).unwrap(), (b"e".to_vec(), 5));
    assert_eq!(recv(&r).unwrap(), (b"f".to_vec(), 2));
    assert_eq!(recv(&r), Err(Fault::Empty));
}

#[test]
fn a_damaged_p_seen_is_only_a_hint() {
    // p_seen above P (a scribble): the receive finds H unpublished, reads
    // P, and reports the queue empty instead of corrupt; nothing is lost.
    let r = queue(4, 8);
    r.try_send(b"a", 1, None).unwrap();
    assert_eq!(recv(&r).unwrap(), (b"a".to_vec(), 1));
    let cs = &r.head.consumers.0;
    cs.p_seen
        .store(cs.h.load(Ordering::Relaxed) + 2, Ordering::Relaxed);
    assert_eq!(recv(&r), Err(Fault::Empty));
    r.try_send(b"b", 1, None).unwrap();
    r.try_send(b"c", 1, None).unwrap();
    assert_eq!(recv(&r).unwrap(), (b"b".to_vec(), 1));
    assert_eq!(recv(&r).unwrap(), (b"c".to_vec(), 1));
    assert_eq!(recv(&r), Err(Fault::Empty));
    // Below P it is a real damage: a published position whose slot is not
    // READY is corrupt, as before.
    r.try_send(b"d", 1, None).unwrap();
    let h = cs.h.load(Ordering::Relaxed);
    let s = r.ring[r.at(h)].load(Ordering::Relaxed);
    r.header(s).state.store(FREE, Ordering::Relaxed);
    assert!(matches!(recv(&r), Err(Fault::Corrupt(_))));
}
