//! (Over 600 lines: the model, its explorer and the tests that show it can
//! fail belong in one file, which nothing outside the tests compiles.)
//!
//! An exhaustive model check of layout 3's lock-free wait / wake protocol
//! (`Ring::wait`, `wake`, `wake_slow`, `wake_all`, `ready`, and the moves of
//! `send_once` / `receive_once` that touch the positions), with kills.
//!
//! **Memory model.** Every modelled access is one atomic step and steps of
//! different threads interleave in every possible order: sequential
//! consistency. That is what x86-64 gives these accesses: TSO keeps loads
//! and stores in program order except a load passing an earlier store, and
//! every store-then-load pair the protocol relies on has a locked
//! instruction between them (the waiter's `fetch_add` between reading the
//! word and `ready()`; the unlock's exchange between a mover's commit and
//! its load of `waiters`; `closing`'s SeqCst store, an exchange, before the
//! closer's wake). Other targets get a SeqCst fence in `wake` instead.
//!
//! **What is modelled.** The positions P, H, F and the index count (as
//! numbers: which slot a position names does not matter to a wait), the
//! two robust locks (free, held, owner died; a locker of an owner-died lock
//! repairs as `repair_p` / `repair_c` do), each side's `Waits` (`waiters`,
//! saturated at 3, which is exact: it is only ever added to and cleared,
//! and read only as zero or not; `word`), the futex (FUTEX_WAIT compares
//! and enqueues in one step; FUTEX_WAKE wakes every sleeper of the word),
//! `closing` (standing for both the handle's closed bit and the backend's
//! `closing`, set in one step), and threads: senders and receivers that
//! move a few messages each (waiting whenever their call moves nothing)
//! and a closer (`release_waiters`), and optionally the readiness helper
//! (`readiness::follow` on the `changed` line, which every mover's `wake`
//! also wakes). Not modelled: the spin before registering (it only
//! returns earlier), the caller's own deadline, signals, batches and the
//! notification.
//!
//! **What is checked**, over every interleaving (a depth-first search over
//! states, each state explored once):
//! 1. No lost wake-up: in a state where no thread can take a step, every
//!    sleeper's wait is still justified: nothing to receive (to send), and
//!    the handle not closing. Otherwise the sleeper would need its 200 ms
//!    slice (offered only then, as a "timeout" step) and the run fails
//!    unless a kill happened.
//! 2. Kills: a sender or receiver may stop forever before any step (inside
//!    a lock, after a commit and before its wake, after registering). Then
//!    a sleeper may need the slice, but at most once per kill, no thread is
//!    ever stuck on a lock (owner-died locks are taken and repaired), and
//!    every run ends (the state graph has no cycle).
//! 3. The readiness helper: in a final state its level is the queue's
//!    (readable exactly when P - F + capacity > 0).
//!
//! **Findings (fixed).** `ready(true)` loaded P, then `indexed`, then H;
//! a receiver's drain stores `indexed`, then H. A waiter whose two loads
//! straddled a drain saw an empty queue that held a message and slept
//! until its slice ended (`indexed_before_h_two_receivers_lose_a_wake_up_
//! to_a_torn_ready_read` keeps that order as a fault the model must find).
//! ring.rs now loads H first (`AS_CODED`), which passes every
//! configuration. The readiness helper slept with no slice, so one kill
//! between a mover's commit and its `changed` wake left the level wrong
//! until the next move (`a_readiness_helper_without_a_slice_stays_stale_
//! after_a_waker_is_killed`); its sleep is now sliced like a waiter's.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The readable side of `ready()`: which of H and the index count is
/// loaded first (after P).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Order {
    /// `ring.rs` today: P, indexed, H.
    IndexedThenH,
    /// P, H, indexed.
    HThenIndexed,
}

/// The protocol checked: ring.rs's, or one with a deliberate fault.
#[derive(Clone, Copy, Debug)]
struct Variant {
    order: Order,
    /// Fault: the waiter registers before it reads the word.
    register_first: bool,
    /// Fault: a sender reads `waiters` before its commit (under its lock)
    /// and wakes only if that early read saw a waiter.
    early_waiters_load: bool,
    /// Fault: a call that moves nothing waits without repairing the other
    /// side's lock left by a dead owner (`repair_side` left out).
    no_repair_side: bool,
}

const AS_CODED: Variant = Variant {
    order: Order::HThenIndexed,
    register_first: false,
    early_waiters_load: false,
    no_repair_side: false,
};

const H_FIRST: Variant = AS_CODED;

/// Fault (the order ring.rs had before this model found it): `ready(true)`
/// loads the index count before H.
const INDEXED_FIRST: Variant = Variant {
    order: Order::IndexedThenH,
    ..AS_CODED
};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Lock {
    Free,
    Held(u8),
    Died,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Sender,
    Receiver,
    Closer,
    /// The readiness descriptor's helper (`readiness::follow`).
    Helper,
}

/// Which `Waits` line: receivers wait on 0 (woken by sends), senders on 1.
const RECV: usize = 0;
const SEND: usize = 1;
/// The `changed` line: the readiness helper waits there for any move.
const CHANGED: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Pc {
    /// Take the side's lock (repair if its owner died).
    Lock,
    SCheck,
    SEarly,
    SCommit,
    SPublish,
    RLoad,
    RSingle,
    RDrainIx,
    RDrainH,
    RPop,
    RCommit,
    RFree,
    Unlock,
    /// `wake`: the fast load of `waiters`, the swap, the bump, FUTEX_WAKE.
    WakeLoad,
    WakeSwap,
    WakeBump,
    WakeFutex,
    /// Moved nothing: look at the other side's lock word.
    Nothing,
    RepairLock,
    RepairUnlock,
    /// `wait`: word, register, ready() in three loads, closing, futex.
    WWord,
    WReg,
    WReady1,
    WReady2,
    WReady3,
    WReady4,
    WClosing,
    WFutex,
    WSleep,
    /// `wait` returned Again: the call looks at `closing`, then retries.
    WAgain,
    /// `wake`'s second half: the `changed` line.
    ChLoad,
    ChSwap,
    ChBump,
    ChFutex,
    /// The readiness helper's loop.
    HWord,
    HReg,
    HF,
    HP,
    HLevel,
    HFutex,
    CSet,
    CZero(u8),
    CBump(u8),
    CWake(u8),
    Done,
    Killed,
}

impl Pc {
    /// A number for the state's hash (distinct per pc, below 64).
    fn code(self) -> u64 {
        use Pc::*;
        u64::from(match self {
            Lock => 0,
            SCheck => 1,
            SEarly => 2,
            SCommit => 3,
            SPublish => 4,
            RLoad => 5,
            RSingle => 6,
            RDrainIx => 7,
            RDrainH => 8,
            RPop => 9,
            RCommit => 10,
            RFree => 11,
            Unlock => 12,
            WakeLoad => 13,
            WakeSwap => 14,
            WakeBump => 15,
            WakeFutex => 16,
            Nothing => 17,
            RepairLock => 18,
            RepairUnlock => 19,
            WWord => 20,
            WReg => 21,
            WReady1 => 22,
            WReady2 => 23,
            WReady3 => 24,
            WReady4 => 25,
            WClosing => 26,
            WFutex => 27,
            WSleep => 28,
            WAgain => 29,
            CSet => 30,
            CZero(l) => 31 + l,
            CBump(l) => 34 + l,
            CWake(l) => 37 + l,
            Done => 40,
            Killed => 41,
            ChLoad => 42,
            ChSwap => 43,
            ChBump => 44,
            ChFutex => 45,
            HWord => 46,
            HReg => 47,
            HF => 48,
            HP => 49,
            HLevel => 50,
            HFutex => 51,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Thread {
    kind: Kind,
    pc: Pc,
    /// Moves left to make.
    left: u8,
    /// The word the wait read.
    v: u8,
    /// P as loaded (by ready() or under the lock), and H / indexed under C.
    p: u8,
    h: u8,
    ix: u8,
    /// The early `waiters` load of the faulty variant.
    saw: bool,
    /// Slices this thread needed (timeouts taken in a stuck state).
    slices: u8,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct State {
    p: u8,
    h: u8,
    ix: u8,
    f: u8,
    /// Ghost: the slot at P is committed (READY, seq P) but P not advanced.
    committed_at_p: bool,
    /// Ghost: takes committed (state = FREE).
    taken: u8,
    plock: Lock,
    clock: Lock,
    waiters: [u8; 3],
    word: [u8; 3],
    /// The readiness helper's eventfd level (readable or not).
    level: bool,
    closing: bool,
    kills: u8,
    t: [Thread; MAX_THREADS],
    n: u8,
}

const MAX_THREADS: usize = 5;

/// Hashes a state as two words of small fields (a debug build spends most
/// of its time hashing: a derived `Hash` makes a call per field). Values
/// wider than their field only collide; equality compares every field.
impl std::hash::Hash for State {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let lock = |l: Lock| match l {
            Lock::Free => 0,
            Lock::Died => 1,
            Lock::Held(i) => 2 + u64::from(i),
        };
        // Straight-line shifts: array iterators are slow in a debug build.
        let u = u64::from;
        let a = u(self.p) << 58
            ^ u(self.h) << 52
            ^ u(self.ix) << 46
            ^ u(self.f) << 40
            ^ u(self.taken) << 34
            ^ u(self.kills) << 28
            ^ lock(self.plock) << 24
            ^ lock(self.clock) << 20
            ^ u(self.waiters[0]) << 17
            ^ u(self.waiters[1]) << 14
            ^ u(self.word[0]) << 8
            ^ u(self.word[1]) << 2
            ^ u64::from(self.closing) << 1
            ^ u64::from(self.committed_at_p);
        state.write_u64(a);
        let mut b = 0u64;
        let mut i = 0;
        while i < self.n as usize {
            let t = &self.t[i];
            let w = t.pc.code() << 22
                ^ u(t.left) << 19
                ^ u(t.v) << 16
                ^ u(t.p) << 13
                ^ u(t.h) << 10
                ^ u(t.ix) << 7
                ^ u(t.slices) << 4
                ^ u64::from(t.saw);
            b = b.rotate_left(29) ^ w;
            i += 1;
        }
        b ^= u64::from(self.level) << 63
            ^ u64::from(self.waiters[CHANGED]) << 60
            ^ u64::from(self.word[CHANGED]) << 54;
        state.write_u64(b);
    }
}

/// One configuration to explore.
#[derive(Clone, Copy, Debug)]
struct Config {
    cap: u8,
    senders: [u8; 2],
    receivers: [u8; 2],
    closer: bool,
    /// A readiness helper follows the queue (movers wake `changed` too).
    helper: bool,
    kills: u8,
}

impl Config {
    fn initial(&self) -> State {
        let idle = Thread {
            kind: Kind::Closer,
            pc: Pc::Done,
            left: 0,
            v: 0,
            p: 0,
            h: 0,
            ix: 0,
            saw: false,
            slices: 0,
        };
        let mut t = [idle; MAX_THREADS];
        let mut n = 0;
        let mut add = |kind, left: u8, pc| {
            if left > 0 {
                t[n] = Thread {
                    kind,
                    pc,
                    left,
                    ..idle
                };
                n += 1;
            }
        };
        for &k in &self.senders {
            add(Kind::Sender, k, Pc::Lock);
        }
        for &k in &self.receivers {
            add(Kind::Receiver, k, Pc::Lock);
        }
        if self.closer {
            add(Kind::Closer, 1, Pc::CSet);
        }
        if self.helper {
            add(Kind::Helper, 1, Pc::HWord);
        }
        State {
            p: 0,
            h: 0,
            ix: 0,
            f: self.cap,
            committed_at_p: false,
            taken: 0,
            plock: Lock::Free,
            clock: Lock::Free,
            waiters: [0; 3],
            word: [0; 3],
            level: false,
            closing: false,
            kills: 0,
            t,
            n: n as u8,
        }
    }
}

impl State {
    /// Whether a call of thread `i`'s kind would move a message now
    /// (repairing a dead owner's lock first), or the handle closes.
    fn justified_to_wake(&self, i: usize, cap: u8) -> bool {
        let queued = self.p + u8::from(self.committed_at_p) - self.taken;
        match self.t[i].kind {
            // It sleeps without a slice: never woken but by a move.
            Kind::Helper => false,
            Kind::Sender => self.closing || queued < cap,
            _ => self.closing || queued > 0,
        }
    }

    fn lock_of(&mut self, k: Kind, other: bool) -> &mut Lock {
        match (k == Kind::Sender) != other {
            true => &mut self.plock,
            false => &mut self.clock,
        }
    }

    /// A locker of an owner-died lock: `repair_p` (a committed send at P
    /// becomes visible) or `repair_c` (the index is rebuilt from the slots
    /// left of H that are still READY, every FREE slot handed back at F).
    fn repair(&mut self, producers: bool, cap: u8) {
        if producers {
            if self.committed_at_p {
                self.p += 1;
                self.committed_at_p = false;
            }
        } else {
            self.ix = self.h - self.taken;
            self.f = cap + self.taken;
        }
    }

    /// Takes a lock if it is free or its owner died (then repairs).
    fn acquire(&mut self, i: usize, producers: bool, cap: u8) -> bool {
        let l = if producers { self.plock } else { self.clock };
        match l {
            Lock::Held(_) => return false,
            Lock::Died => self.repair(producers, cap),
            Lock::Free => {}
        }
        *(if producers {
            &mut self.plock
        } else {
            &mut self.clock
        }) = Lock::Held(i as u8);
        true
    }

    /// Zeroes each thread's locals that its pc no longer reads, so states
    /// that differ only in dead values are explored once.
    fn forget_dead_locals(&mut self) {
        for t in &mut self.t[..self.n as usize] {
            use Pc::*;
            if !matches!(
                t.pc,
                WReg | WReady1
                    | WReady2
                    | WReady3
                    | WReady4
                    | WClosing
                    | WFutex
                    | HReg
                    | HF
                    | HP
                    | HLevel
                    | HFutex
            ) {
                t.v = 0;
            }
            if !matches!(t.pc, RDrainIx | RDrainH | WReady2 | WReady3 | HLevel) {
                t.p = 0;
            }
            if !matches!(t.pc, RSingle | RDrainIx | HP | HLevel) {
                t.h = 0;
            }
            if t.pc != RDrainIx {
                t.ix = 0;
            }
            if !matches!(t.pc, SCommit | SPublish | Unlock) {
                t.saw = false;
            }
            if matches!(t.pc, Done | Killed) {
                t.left = 0;
            }
        }
    }

    fn futex_wake(&mut self, line: usize) {
        for k in 0..self.n as usize {
            let t = &mut self.t[k];
            if t.pc == Pc::WSleep && side(t.kind) == line {
                t.pc = Pc::WAgain;
            }
        }
    }
}

/// The line a thread of `kind` waits on.
fn side(kind: Kind) -> usize {
    match kind {
        Kind::Sender => SEND,
        Kind::Helper => CHANGED,
        _ => RECV,
    }
}

/// One step of thread `i` (None: it cannot move now).
fn step(s: &State, i: usize, cfg: &Config, var: Variant) -> Option<State> {
    let cap = cfg.cap;
    let mut n = *s;
    let t = s.t[i];
    let k = t.kind;
    let producers = k == Kind::Sender;
    let wait_entry = if var.register_first {
        Pc::WReg
    } else {
        Pc::WWord
    };
    let next = |n: &mut State, pc| n.t[i].pc = pc;
    // After a move: one fewer to make.
    let moved = |n: &mut State| {
        n.t[i].left -= 1;
        n.t[i].pc = if n.t[i].left == 0 { Pc::Done } else { Pc::Lock };
    };
    // After the side's wake: the `changed` line's, if a helper follows.
    let woke = |n: &mut State| {
        if cfg.helper {
            n.t[i].pc = Pc::ChLoad;
        } else {
            moved(n);
        }
    };
    match t.pc {
        Pc::Lock => {
            if !n.acquire(i, producers, cap) {
                return None;
            }
            next(&mut n, if producers { Pc::SCheck } else { Pc::RLoad });
        }
        // ---- send_once: room? commit, publish
        Pc::SCheck => {
            if s.p + u8::from(s.committed_at_p) == s.f {
                n.plock = Lock::Free;
                next(&mut n, Pc::Nothing);
            } else if var.early_waiters_load {
                next(&mut n, Pc::SEarly);
            } else {
                next(&mut n, Pc::SCommit);
            }
        }
        Pc::SEarly => {
            n.t[i].saw = s.waiters[RECV] != 0;
            next(&mut n, Pc::SCommit);
        }
        Pc::SCommit => {
            n.committed_at_p = true;
            next(&mut n, Pc::SPublish);
        }
        Pc::SPublish => {
            n.p += 1;
            n.committed_at_p = false;
            next(&mut n, Pc::Unlock);
        }
        // ---- receive_once: load, drain or take the single one, commit, free
        Pc::RLoad => {
            let th = &mut n.t[i];
            (th.p, th.h, th.ix) = (s.p, s.h, s.ix);
            if s.ix == 0 && s.p == s.h {
                n.clock = Lock::Free;
                next(&mut n, Pc::Nothing);
            } else if s.ix == 0 && s.p - s.h == 1 {
                next(&mut n, Pc::RSingle);
            } else {
                next(&mut n, Pc::RDrainIx);
            }
        }
        Pc::RSingle => {
            n.h = t.h + 1;
            next(&mut n, Pc::RCommit);
        }
        Pc::RDrainIx => {
            if t.h < t.p {
                n.ix = t.ix + (t.p - t.h);
                next(&mut n, Pc::RDrainH);
            } else {
                next(&mut n, Pc::RPop);
            }
        }
        Pc::RDrainH => {
            n.h = t.p;
            next(&mut n, Pc::RPop);
        }
        Pc::RPop => {
            n.ix = s.ix - 1;
            next(&mut n, Pc::RCommit);
        }
        Pc::RCommit => {
            n.taken += 1;
            next(&mut n, Pc::RFree);
        }
        Pc::RFree => {
            n.f += 1;
            next(&mut n, Pc::Unlock);
        }
        Pc::Unlock => {
            *n.lock_of(k, false) = Lock::Free;
            if var.early_waiters_load && producers {
                if t.saw {
                    next(&mut n, Pc::WakeSwap);
                } else {
                    woke(&mut n);
                }
            } else {
                next(&mut n, Pc::WakeLoad);
            }
        }
        // ---- wake / wake_slow (of the other side's line)
        Pc::WakeLoad => {
            if s.waiters[1 - side(k)] != 0 {
                next(&mut n, Pc::WakeSwap);
            } else {
                woke(&mut n);
            }
        }
        Pc::WakeSwap => {
            n.waiters[1 - side(k)] = 0;
            if s.waiters[1 - side(k)] != 0 {
                next(&mut n, Pc::WakeBump);
            } else {
                woke(&mut n);
            }
        }
        Pc::WakeBump => {
            n.word[1 - side(k)] = s.word[1 - side(k)].wrapping_add(1);
            next(&mut n, Pc::WakeFutex);
        }
        Pc::WakeFutex => {
            n.futex_wake(1 - side(k));
            woke(&mut n);
        }
        Pc::ChLoad => {
            if s.waiters[CHANGED] != 0 {
                next(&mut n, Pc::ChSwap);
            } else {
                moved(&mut n);
            }
        }
        Pc::ChSwap => {
            n.waiters[CHANGED] = 0;
            if s.waiters[CHANGED] != 0 {
                next(&mut n, Pc::ChBump);
            } else {
                moved(&mut n);
            }
        }
        Pc::ChBump => {
            n.word[CHANGED] = s.word[CHANGED].wrapping_add(1);
            next(&mut n, Pc::ChFutex);
        }
        Pc::ChFutex => {
            n.futex_wake(CHANGED);
            moved(&mut n);
        }
        // ---- the readiness helper: word, register, count (F, then P), set
        // the level, sleep (no slice)
        Pc::HWord => {
            n.t[i].v = s.word[CHANGED];
            next(&mut n, Pc::HReg);
        }
        Pc::HReg => {
            n.waiters[CHANGED] = (s.waiters[CHANGED] + 1).min(3);
            next(&mut n, Pc::HF);
        }
        Pc::HF => {
            n.t[i].h = s.f;
            next(&mut n, Pc::HP);
        }
        Pc::HP => {
            n.t[i].p = s.p;
            next(&mut n, Pc::HLevel);
        }
        Pc::HLevel => {
            n.level = t.p + cap > t.h;
            next(&mut n, Pc::HFutex);
        }
        Pc::HFutex => {
            let same = s.word[CHANGED] == t.v;
            next(&mut n, if same { Pc::WSleep } else { Pc::HWord });
        }
        // ---- Full / Empty: repair the other side if its owner died, or wait
        Pc::Nothing => {
            if *n.lock_of(k, true) == Lock::Died && !var.no_repair_side {
                next(&mut n, Pc::RepairLock);
            } else {
                next(&mut n, wait_entry);
            }
        }
        Pc::RepairLock => {
            if !n.acquire(i, !producers, cap) {
                return None;
            }
            next(&mut n, Pc::RepairUnlock);
        }
        Pc::RepairUnlock => {
            *n.lock_of(k, true) = Lock::Free;
            next(&mut n, Pc::Lock);
        }
        // ---- wait
        Pc::WWord => {
            n.t[i].v = s.word[side(k)];
            next(
                &mut n,
                if var.register_first {
                    Pc::WReady1
                } else {
                    Pc::WReg
                },
            );
        }
        Pc::WReg => {
            n.waiters[side(k)] = (s.waiters[side(k)] + 1).min(3);
            next(
                &mut n,
                if var.register_first {
                    Pc::WWord
                } else {
                    Pc::WReady1
                },
            );
        }
        Pc::WReady1 => {
            n.t[i].p = s.p;
            next(&mut n, Pc::WReady2);
        }
        Pc::WReady2 | Pc::WReady3 if !producers => {
            let first = t.pc == Pc::WReady2;
            let index_now = first == (var.order == Order::IndexedThenH);
            let ready = if index_now { s.ix > 0 } else { s.h < t.p };
            let after = if first { Pc::WReady3 } else { Pc::WReady4 };
            next(&mut n, if ready { Pc::WAgain } else { after });
        }
        Pc::WReady2 => {
            next(&mut n, if t.p < s.f { Pc::WAgain } else { Pc::WReady4 });
        }
        Pc::WReady4 => {
            let died = *n.lock_of(k, true) == Lock::Died;
            next(&mut n, if died { Pc::WAgain } else { Pc::WClosing });
        }
        Pc::WClosing => {
            next(&mut n, if s.closing { Pc::WAgain } else { Pc::WFutex });
        }
        Pc::WFutex => {
            let same = s.word[side(k)] == t.v;
            next(&mut n, if same { Pc::WSleep } else { Pc::WAgain });
        }
        Pc::WAgain if k == Kind::Helper => next(&mut n, Pc::HWord),
        Pc::WAgain => {
            next(&mut n, if s.closing { Pc::Done } else { Pc::Lock });
        }
        // ---- the closer: release_waiters / wake_all
        Pc::CSet => {
            n.closing = true;
            next(&mut n, Pc::CZero(0));
        }
        Pc::CZero(l) => {
            n.waiters[l as usize] = 0;
            next(&mut n, Pc::CBump(l));
        }
        Pc::CBump(l) => {
            n.word[l as usize] = s.word[l as usize].wrapping_add(1);
            next(&mut n, Pc::CWake(l));
        }
        Pc::CWake(l) => {
            n.futex_wake(l as usize);
            let more = l == 0 || (l == 1 && cfg.helper);
            next(&mut n, if more { Pc::CZero(l + 1) } else { Pc::Done });
        }
        Pc::WReady3 | Pc::WSleep | Pc::Done | Pc::Killed => return None,
    }
    Some(n)
}

/// How a transition came about.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Act {
    /// The thread's step at its pc.
    Step,
    /// A sleeper's slice ended (offered only when nothing else can move).
    Slice,
    /// The thread stopped forever here.
    Kill,
}

/// A transition: thread, its kind, its pc before, and how.
type Label = (u8, Kind, Pc, Act);

/// What one exploration found.
#[derive(Debug)]
struct Outcome {
    states: usize,
    transitions: u64,
    /// Complete runs (paths from the start to a final state).
    runs: f64,
    /// Slices taken (each a sleeper that needed its timeout).
    slices: u64,
    /// The first violation: what, and the steps that lead to it.
    violation: Option<(String, Vec<String>)>,
}

struct Explorer {
    cfg: Config,
    var: Variant,
    /// Complete runs from each finished state (None: on the DFS stack).
    seen: HashMap<State, Option<f64>, BuildHasherDefault<Fnv>>,
    trace: Vec<Label>,
    transitions: u64,
    slices: u64,
    violation: Option<(String, Vec<String>)>,
}

impl Explorer {
    fn fail(&mut self, what: String) {
        if self.violation.is_none() {
            let trace = self.trace.iter().map(|&(i, k, pc, a)| match a {
                Act::Step => format!("t{i} {k:?} {pc:?}"),
                Act::Slice => format!("t{i} {k:?} SLICE TIMEOUT"),
                Act::Kill => format!("t{i} {k:?} KILLED at {pc:?}"),
            });
            self.violation = Some((what, trace.collect()));
        }
    }

    /// Every successor of `s`, labelled.
    fn successors(&mut self, s: &State) -> Vec<(Label, State)> {
        let cap = self.cfg.cap;
        let mut out = Vec::new();
        for i in 0..s.n as usize {
            if let Some(mut n) = step(s, i, &self.cfg, self.var) {
                n.forget_dead_locals();
                out.push(((i as u8, s.t[i].kind, s.t[i].pc, Act::Step), n));
            }
        }
        let live = !out.is_empty();
        for i in 0..s.n as usize {
            let t = s.t[i];
            // Stuck: every sleeper the state justifies waking may need its
            // slice (offered only when nothing else can move).
            if !live && t.pc == Pc::WSleep && s.justified_to_wake(i, cap) {
                let mut n = *s;
                n.t[i].pc = Pc::WAgain;
                n.t[i].slices += 1;
                out.push(((i as u8, t.kind, t.pc, Act::Slice), n));
            }
            if s.kills < self.cfg.kills
                && !matches!(t.kind, Kind::Closer | Kind::Helper)
                && !matches!(t.pc, Pc::Done | Pc::Killed)
            {
                let mut n = *s;
                n.kills += 1;
                n.t[i].pc = Pc::Killed;
                for l in [&mut n.plock, &mut n.clock] {
                    if *l == Lock::Held(i as u8) {
                        *l = Lock::Died;
                    }
                }
                n.forget_dead_locals();
                out.push(((i as u8, t.kind, t.pc, Act::Kill), n));
            }
        }
        out
    }

    /// Runs to a final state from `s`; checks every state on the way.
    fn visit(&mut self, s: State) -> f64 {
        match self.seen.get(&s) {
            Some(Some(runs)) => return *runs,
            Some(None) => {
                self.fail("a cycle: a run that never ends".into());
                return 0.0;
            }
            None => {}
        }
        self.seen.insert(s, None);
        let cap = self.cfg.cap;
        for (i, t) in s.t[..s.n as usize].iter().enumerate() {
            if t.slices > s.kills {
                let what = if s.kills == 0 {
                    "lost wake-up: a sleeper needed its 200 ms slice with nobody killed"
                } else {
                    "a sleeper needed more slices than there were kills"
                };
                self.fail(format!(
                    "{what} (t{i}, {} slices, {} kills)",
                    t.slices, s.kills
                ));
            }
        }
        let next = self.successors(&s);
        let mut runs = 0.0;
        if next.is_empty() {
            runs = 1.0;
            for (i, t) in s.t[..s.n as usize].iter().enumerate() {
                let fine = match t.pc {
                    Pc::Done | Pc::Killed => true,
                    Pc::WSleep if t.kind == Kind::Helper => s.level == (s.p + cap > s.f),
                    Pc::WSleep => !s.justified_to_wake(i, cap),
                    _ => false,
                };
                if !fine && t.kind == Kind::Helper {
                    self.fail(format!(
                        "stale readiness for good: the helper sleeps with level {} while the \
                         queue holds {} (P {}, F {})",
                        s.level,
                        s.p + cap - s.f,
                        s.p,
                        s.f
                    ));
                } else if !fine {
                    self.fail(format!("t{i} stuck at {:?} in the final state {s:?}", t.pc));
                }
            }
        }
        for (label, n) in next {
            self.transitions += 1;
            if label.3 == Act::Slice {
                self.slices += 1;
            }
            if self.violation.is_some() {
                break;
            }
            self.trace.push(label);
            runs += self.visit(n);
            self.trace.pop();
        }
        self.seen.insert(s, Some(runs));
        runs
    }
}

fn explore(cfg: Config, var: Variant) -> Outcome {
    let mut e = Explorer {
        cfg,
        var,
        seen: HashMap::default(),
        trace: Vec::new(),
        transitions: 0,
        slices: 0,
        violation: None,
    };
    let runs = e.visit(cfg.initial());
    Outcome {
        states: e.seen.len(),
        transitions: e.transitions,
        runs,
        slices: e.slices,
        violation: e.violation,
    }
}

/// A multiply-rotate mix of `State`'s words (FNV-1a for anything else):
/// the std SipHash is the slowest part of a debug-build search.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        // Spread the high bits down: the table indexes by the low ones.
        let x = (self.0 ^ self.0 >> 32).wrapping_mul(0xd6e8_feb8_6659_fd93);
        x ^ x >> 32
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(29) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

// ------------------------------------------------------------------ tests

const fn cfg(cap: u8, senders: [u8; 2], receivers: [u8; 2], closer: bool) -> Config {
    Config {
        cap,
        senders,
        receivers,
        closer,
        helper: false,
        kills: 0,
    }
}

/// 1-2 senders x 1-2 receivers (moves per thread in brackets), capacity 1
/// and 2, with and without a closer; `true`: a large one (0.4-0.6 M states,
/// about 4 s each in a debug build), explored only with `PMQ_MODEL_FULL=1`.
const ONE_RECEIVER: [(Config, bool); 6] = [
    (cfg(1, [2, 0], [2, 0], false), false),
    (cfg(1, [1, 1], [2, 0], false), false),
    (cfg(2, [2, 1], [3, 0], false), false),
    (cfg(1, [1, 0], [2, 0], true), false),
    (cfg(1, [0, 0], [1, 0], true), false),
    (cfg(1, [1, 1], [2, 0], true), false),
];
const TWO_RECEIVERS: [(Config, bool); 5] = [
    (cfg(2, [2, 0], [1, 1], false), false),
    (cfg(1, [1, 0], [1, 1], true), false),
    (cfg(1, [1, 0], [1, 1], false), false),
    (cfg(1, [1, 1], [1, 1], false), true),
    (cfg(1, [2, 0], [1, 1], true), true),
];

/// Explores `cfg` under `var`, prints the figures, returns the outcome.
fn run(name: &str, cfg: Config, var: Variant) -> Outcome {
    let o = explore(cfg, var);
    println!(
        "{name}: {cfg:?}: {} states, {} transitions, {:.3e} complete runs, {} slices{}",
        o.states,
        o.transitions,
        o.runs,
        o.slices,
        match &o.violation {
            Some((what, _)) => format!(", VIOLATION: {what}"),
            None => String::new(),
        }
    );
    o
}

/// Every config passes under `var` (with `kills` kills allowed).
fn all_pass(name: &str, configs: &[(Config, bool)], var: Variant, kills: u8) {
    let full = std::env::var_os("PMQ_MODEL_FULL").is_some();
    let mut total = (0, 0u64, 0.0);
    let mut skipped = 0;
    for (c, large) in configs {
        // With kills, a closer ends every stuck state (it wakes all), so the
        // kill runs leave it out: no slice would ever be needed.
        if kills > 0 && c.closer {
            continue;
        }
        if *large && !full {
            skipped += 1;
            continue;
        }
        let o = run(name, Config { kills, ..*c }, var);
        if let Some((what, trace)) = o.violation {
            panic!("{name}: {c:?}: {what}\n{}", trace.join("\n"));
        }
        assert!(o.runs >= 1.0 && o.states > 1, "nothing explored");
        if kills == 0 {
            assert_eq!(o.slices, 0, "no slice is needed without a kill");
        }
        total = (
            total.0 + o.states,
            total.1 + o.transitions,
            total.2 + o.runs,
        );
    }
    println!(
        "{name}: total {} states, {} transitions, {:.3e} complete runs ({skipped} large \
         configurations not run: PMQ_MODEL_FULL=1 runs them)",
        total.0, total.1, total.2
    );
}

/// `var` on `cfg` has a counterexample naming `what`: printed, returned.
fn counterexample(name: &str, cfg: Config, var: Variant, what: &str) -> Vec<String> {
    let o = run(name, cfg, var);
    let (found, trace) = o
        .violation
        .unwrap_or_else(|| panic!("{name}: the explorer found no counterexample"));
    println!("{name}: {found}\n  {}", trace.join("\n  "));
    assert!(found.contains(what), "{name}: {found}");
    trace
}

#[test]
fn as_coded_no_lost_wake_up_with_one_receiver() {
    all_pass("as coded", &ONE_RECEIVER, AS_CODED, 0);
}

#[test]
fn as_coded_with_kills_costs_at_most_one_slice_per_kill() {
    all_pass("as coded, 1 kill", &ONE_RECEIVER, AS_CODED, 1);
}

/// A `ready(true)` that loads P, then `indexed`, then H (ring.rs did until
/// this model found it), while a receiver's drain stores `indexed` then H:
/// a waiter can read `indexed` before a drain and H after it, see an empty
/// queue that holds a message, and sleep: no mover is left to wake it, so
/// only the 200 ms slice does.
#[test]
fn indexed_before_h_two_receivers_lose_a_wake_up_to_a_torn_ready_read() {
    let trace = counterexample(
        "indexed before H, 2 receivers",
        cfg(2, [2, 0], [1, 1], false),
        INDEXED_FIRST,
        "lost wake-up",
    );
    let ready2 = trace.iter().position(|l| l.ends_with("WReady2"));
    let drain = trace.iter().position(|l| l.ends_with("RDrainH"));
    let ready3 = trace.iter().position(|l| l.ends_with("WReady3"));
    assert!(
        matches!((ready2, drain, ready3), (Some(a), Some(b), Some(c)) if a < b && b < c),
        "the waiter's indexed and H loads straddle a drain"
    );
}

#[test]
fn h_before_indexed_no_lost_wake_up() {
    all_pass("H first", &ONE_RECEIVER, H_FIRST, 0);
    all_pass("H first, 2 receivers", &TWO_RECEIVERS, H_FIRST, 0);
}

#[test]
fn h_before_indexed_with_kills_costs_at_most_one_slice_per_kill() {
    all_pass("H first, 1 kill", &ONE_RECEIVER, H_FIRST, 1);
    all_pass("H first, 2 receivers, 1 kill", &TWO_RECEIVERS, H_FIRST, 1);
}

/// The explorer finds the protocol's faults: a waiter that registers
/// before it reads the word sleeps through a wake whose registration swap
/// took its count; a sender that reads `waiters` before its commit misses
/// a waiter that registered after that read.
#[test]
fn mutations_are_caught() {
    counterexample(
        "mutation: register before reading the word",
        cfg(1, [2, 0], [1, 1], false),
        Variant {
            register_first: true,
            ..H_FIRST
        },
        "lost wake-up",
    );
    counterexample(
        "mutation: waiters read before the commit",
        cfg(1, [1, 0], [1, 0], false),
        Variant {
            early_waiters_load: true,
            ..H_FIRST
        },
        "lost wake-up",
    );
}

/// The readiness helper (`readiness::follow`: word, register, count,
/// level, sleep with no slice) ends every run at the queue's level when
/// nobody is killed...
#[test]
fn readiness_helper_follows_every_move() {
    let with_helper = |c: Config, large| (Config { helper: true, ..c }, large);
    let configs = [
        with_helper(cfg(1, [1, 0], [1, 0], false), false),
        with_helper(cfg(1, [2, 0], [1, 0], false), false),
        with_helper(cfg(1, [1, 0], [1, 1], false), true),
        with_helper(cfg(1, [1, 0], [1, 0], true), false),
        with_helper(cfg(1, [2, 0], [2, 0], false), true),
        with_helper(cfg(2, [1, 1], [2, 0], false), true),
        with_helper(cfg(1, [1, 0], [2, 0], true), true),
    ];
    all_pass("readiness helper", &configs, AS_CODED, 0);
}

/// ... but a helper that slept with no slice (as readiness.rs did until
/// this model found it) would keep a wrong level for good after a mover
/// killed after its commit and before the `changed` line's wake (a poll on
/// it could wait forever): the helper's sleep is sliced (200 ms) for that.
#[test]
fn a_readiness_helper_without_a_slice_stays_stale_after_a_waker_is_killed() {
    let one = Config {
        helper: true,
        kills: 1,
        ..cfg(1, [1, 0], [1, 0], false)
    };
    let trace = counterexample("readiness helper, 1 kill", one, AS_CODED, "stale readiness");
    let kill = trace.iter().find(|l| l.contains("KILLED")).unwrap();
    let after_commit = [
        "SPublish",
        "Unlock",
        "WakeLoad",
        "WakeSwap",
        "WakeBump",
        "WakeFutex",
        "ChLoad",
        "ChSwap",
        "ChBump",
        "ChFutex",
        "RFree",
    ];
    assert!(
        after_commit.iter().any(|pc| kill.ends_with(pc)),
        "killed after a commit: {kill}"
    );
}

/// ... and a fault that only a kill shows: without `repair_side`, a
/// receiver that finds the queue empty while a sender died between its
/// commit and advancing P waits, `ready()` answers "owner died" at once,
/// and the receiver loops without end (the message stays hidden).
#[test]
fn a_kill_mutation_is_caught() {
    let var = Variant {
        no_repair_side: true,
        ..H_FIRST
    };
    let one = cfg(1, [1, 0], [1, 0], false);
    assert!(run("no repair_side, no kill", one, var).violation.is_none());
    let trace = counterexample(
        "mutation: no repair_side, 1 kill",
        Config { kills: 1, ..one },
        var,
        "a cycle",
    );
    assert!(trace.iter().any(|l| l.contains("KILLED at SPublish")));
}
