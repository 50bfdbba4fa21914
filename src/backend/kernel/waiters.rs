//! Waiting inside the kernel's own `mq_send` / `mq_receive`, and ending such
//! a wait when the handle is closed.
//!
//! Why: a wait in ppoll costs a failed attempt, the ppoll and a second
//! attempt, and a sender cannot hand its message straight to the waiter (the
//! kernel does that only for a receiver asleep in `mq_receive`). Blocking in
//! the kernel's own call costs one system call, like raw `mq_*`.
//!
//! How close ends such a wait: nothing but a message, room or a signal ends
//! a thread's sleep in `mq_receive` / `mq_send` (closing or `dup2`-ing the
//! descriptor does not). So pmq takes one real-time signal for itself (the
//! wake signal: the highest one, from `SIGRTMAX` down, that has no handler
//! when pmq first needs one; `PMQ_WAKE_SIGNAL=N` picks one, `=0` turns
//! kernel waits off), installs a handler that does nothing, without
//! `SA_RESTART` (so the interrupted call fails with EINTR), and sends it with
//! `tgkill` only to the threads registered, in [`Waiters`], as waiting on the
//! closing handle. The user's own handlers and masks are never changed:
//! - a thread that blocks the wake signal, a handle whose [`SLOTS`] are all
//!   taken, and a process where no real-time signal is free wait in ppoll as
//!   before (the caller falls back; nothing is lost);
//! - the wake signal reaches a thread only while it is registered, that is,
//!   inside pmq's own wait: before leaving, a thread that was signalled takes
//!   any instance still pending off its queue (`sigtimedwait`), so none ever
//!   lands in the user's code after the call returns;
//! - a signal that lands between the closed check and the system call (the
//!   handler runs, then the call sleeps anyway) is why close signals again
//!   until every waiter of the handle has left.
//!
//! Fork: a registration records the process id, so a child's close ignores
//! (and clears) what the parent's threads had registered; the cached thread
//! identity is renewed in the child (a `pthread_atfork` handler).

use std::cell::Cell;
use std::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// Threads of one handle that can wait inside the kernel at the same time;
/// more wait in ppoll.
pub(super) const SLOTS: usize = 8;

/// After a try that found the queue full / empty, this many calls without a
/// timeout go straight to the kernel's blocking call (no failed try first),
/// then one tries first again.
const PREFER_BLOCKING: u8 = 8;

/// Slot states (top two bits; the rest is `pid << 32 | tid`, 0 = free).
const STATE: u64 = 3 << 62;
/// Registered, possibly asleep in the kernel.
const WAIT: u64 = 1 << 62;
/// Close is sending the wake signal to it now.
const KICK: u64 = 2 << 62;
/// Close has sent the wake signal (it is pending or was handled).
const KICKED: u64 = 3 << 62;

/// How long close keeps signalling a waiter that does not leave (one stuck
/// in a signal handler of its own, or stopped) before it gives up on it.
const CLOSE_PATIENCE: Duration = Duration::from_secs(2);

/// The kernel waits of one handle.
#[derive(Debug)]
// The hint first: every call without a timeout reads it, next to the
// descriptors in `KernelQueue`; the slots only when it waits.
#[repr(C)]
pub(super) struct Waiters {
    /// Calls left that block without trying first (send, receive).
    prefer: [AtomicU8; 2],
    /// Set by [`Waiters::wake_all`]: no new kernel wait starts.
    closing: AtomicBool,
    slots: [AtomicU64; SLOTS],
}

/// Which direction a hint is for.
#[derive(Clone, Copy)]
pub(super) enum Dir {
    Send = 0,
    Receive = 1,
}

/// How an attempt to wait in the kernel went.
pub(super) enum Blocked {
    /// The kernel wait is not possible here (no wake signal, the thread
    /// blocks it, or every slot is taken): wait some other way.
    Unavailable,
    /// The handle is closing: nothing was attempted.
    Closing,
    /// The call returned this (and this errno when negative).
    Returned(isize, nix::errno::Errno),
}

impl Waiters {
    pub(super) fn new() -> Waiters {
        Waiters {
            slots: Default::default(),
            closing: AtomicBool::new(false),
            prefer: Default::default(),
        }
    }

    /// Whether the next call without a timeout should block at once (and
    /// counts it), rather than try first.
    #[inline]
    pub(super) fn prefer_blocking(&self, d: Dir) -> bool {
        let p = &self.prefer[d as usize];
        let left = p.load(Ordering::Relaxed);
        if left == 0 {
            return false;
        }
        p.store(left - 1, Ordering::Relaxed);
        true
    }

    /// A try found the queue full / empty: block at once for a while.
    #[inline]
    pub(super) fn found_waiting(&self, d: Dir) {
        self.prefer[d as usize].store(PREFER_BLOCKING, Ordering::Relaxed);
    }

    /// Whether close has begun.
    #[inline]
    pub(super) fn closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// Runs `call` (a blocking `mq_*` call) registered as a waiter, so that
    /// [`Waiters::wake_all`] can end it.
    #[inline]
    pub(super) fn block(&self, call: impl FnOnce() -> isize) -> Blocked {
        let sig = wake_signal();
        if sig <= 0 || !deliverable(sig) {
            return Blocked::Unavailable;
        }
        let me = identity();
        let Some(slot) = self.slots.iter().find(|s| {
            s.compare_exchange(0, me | WAIT, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        }) else {
            return Blocked::Unavailable;
        };
        // Paired with the fence in wake_all: either close sees this
        // registration (and signals this thread), or this sees `closing`.
        fence(Ordering::SeqCst);
        if self.closing.load(Ordering::Relaxed) {
            leave(slot, me, sig);
            return Blocked::Closing;
        }
        let r = call();
        let e = if r < 0 {
            nix::errno::Errno::last()
        } else {
            nix::errno::Errno::UnknownErrno
        };
        leave(slot, me, sig);
        Blocked::Returned(r, e)
    }

    /// Ends every kernel wait of this handle, now and later: marks the handle
    /// closing, then signals each registered waiter until it has left (a
    /// waiter the signal reached just before it fell asleep needs a second
    /// one). Returns once none is left (or after [`CLOSE_PATIENCE`]).
    pub(super) fn wake_all(&self) {
        self.closing.store(true, Ordering::Relaxed);
        // Paired with the fence in block.
        fence(Ordering::SeqCst);
        // No kernel wait ever started in this process without a wake signal.
        let Some(&sig) = WAKE_SIGNAL.get() else {
            return;
        };
        if sig <= 0 {
            return;
        }
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let start = Instant::now();
        loop {
            let mut left = false;
            for slot in &self.slots {
                let v = slot.load(Ordering::Acquire);
                if v == 0 {
                    continue;
                }
                let id = v & !STATE;
                if (id >> 32) as libc::pid_t != pid {
                    // Registered by a thread of the parent before fork: that
                    // thread is not in this process.
                    let _ = slot.compare_exchange(v, 0, Ordering::AcqRel, Ordering::Relaxed);
                    continue;
                }
                left = true;
                if v & STATE != KICK {
                    kick(slot, v, pid, sig);
                }
            }
            if !left || start.elapsed() > CLOSE_PATIENCE {
                return;
            }
            // Give the waiters a moment to leave before signalling again.
            let until = Instant::now() + Duration::from_millis(1);
            while Instant::now() < until && self.any_of(pid) {
                std::thread::yield_now();
            }
        }
    }

    fn any_of(&self, pid: libc::pid_t) -> bool {
        self.slots.iter().any(|s| {
            let v = s.load(Ordering::Acquire);
            v != 0 && ((v & !STATE) >> 32) as libc::pid_t == pid
        })
    }
}

/// Sends the wake signal to the waiter registered in `slot` as `v`.
fn kick(slot: &AtomicU64, v: u64, pid: libc::pid_t, sig: libc::c_int) {
    let id = v & !STATE;
    if slot
        .compare_exchange(v, id | KICK, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return; // it left (or changed state): look again next round
    }
    let tid = (id & 0xffff_ffff) as libc::pid_t;
    // SAFETY: plain tgkill(2). The thread cannot have left while its slot
    // says KICK (leave waits for KICKED), so `tid` is that live thread of
    // this process, and `sig` has pmq's do-nothing handler.
    let r = unsafe { libc::tgkill(pid, tid, sig) };
    if r != 0 {
        // No such thread: it ended inside the wait (cancelled) and never
        // left. Free the slot.
        slot.store(0, Ordering::Release);
        return;
    }
    slot.store(id | KICKED, Ordering::Release);
}

/// Unregisters the calling thread, first taking any wake signal sent to it
/// off its queue, so that none arrives after pmq's call returns.
#[inline]
fn leave(slot: &AtomicU64, me: u64, sig: libc::c_int) {
    if slot
        .compare_exchange(me | WAIT, 0, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        return;
    }
    leave_signalled(slot, me, sig);
}

#[cold]
fn leave_signalled(slot: &AtomicU64, me: u64, sig: libc::c_int) {
    loop {
        let v = slot.load(Ordering::Acquire);
        match v & STATE {
            KICKED if v & !STATE == me => {
                drain(sig);
                if slot
                    .compare_exchange(v, 0, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return;
                }
            }
            KICK if v & !STATE == me => std::thread::yield_now(),
            WAIT if v & !STATE == me => {
                if slot
                    .compare_exchange(v, 0, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return;
                }
            }
            // Cleared by close (a kick that found no thread): nothing to do.
            _ => return,
        }
    }
}

/// Takes every pending instance of the wake signal off this thread's queue
/// (one already handled is gone anyway).
fn drain(sig: libc::c_int) {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset; the zero
    // timeout makes sigtimedwait return at once (EAGAIN) when none is pending.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) == sig {}
    }
}

/// Whether the calling thread lets `sig` through now.
#[inline]
fn deliverable(sig: libc::c_int) -> bool {
    // SAFETY: sigset_t is plain data; with a null new set pthread_sigmask
    // only reads the thread's mask into `cur`.
    unsafe {
        let mut cur: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur) == 0
            && libc::sigismember(&cur, sig) == 0
    }
}

/// Bumped in a child after fork, so cached thread identities are renewed.
static FORK_GENERATION: AtomicU32 = AtomicU32::new(0);

extern "C" fn after_fork_in_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
}

thread_local! {
    /// (fork generation, pid << 32 | tid) of this thread, once asked.
    static IDENTITY: Cell<(u32, u64)> = const { Cell::new((u32::MAX, 0)) };
}

/// `pid << 32 | tid` of the calling thread (cached: no system call).
#[inline]
fn identity() -> u64 {
    let generation = FORK_GENERATION.load(Ordering::Relaxed);
    IDENTITY.with(|c| {
        let (g, id) = c.get();
        if g == generation && id != 0 {
            return id;
        }
        // SAFETY: getpid and gettid have no preconditions.
        let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
        let id = ((pid as u32 as u64) << 32) | tid as u32 as u64;
        c.set((generation, id));
        id
    })
}

/// The wake signal, or 0 when kernel waits are off / no signal is free.
static WAKE_SIGNAL: crate::fork_once::ForkOnce<libc::c_int> = crate::fork_once::ForkOnce::new();

/// The process's wake signal, chosen and installed on first use.
#[inline]
pub(super) fn wake_signal() -> libc::c_int {
    *WAKE_SIGNAL.get_or_init(install_wake_signal)
}

/// The handler: it only has to exist (so the signal ends a sleeping call
/// with EINTR instead of killing the process), so it does nothing.
extern "C" fn on_wake(_: libc::c_int) {}

fn install_wake_signal() -> libc::c_int {
    let (lo, hi) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let wanted = std::env::var("PMQ_WAKE_SIGNAL").ok();
    let candidates: Vec<libc::c_int> = match wanted.as_deref().map(str::trim) {
        Some("0") | Some("off") => return 0,
        Some(s) => match s.parse::<libc::c_int>() {
            Ok(n) if (lo..=hi).contains(&n) => vec![n],
            _ => return 0,
        },
        None => (lo..=hi).rev().collect(),
    };
    for sig in candidates {
        // SAFETY: sigaction is plain data; a null new action only reads.
        let free = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_DFL
        };
        if !free {
            continue;
        }
        // SAFETY: a valid handler that does nothing (async-signal-safe), an
        // empty mask, no SA_RESTART (the sleeping call must fail with EINTR),
        // SA_ONSTACK for runtimes that give threads an alternate stack.
        let installed = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_wake as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_ONSTACK;
            libc::sigaction(sig, &sa, std::ptr::null_mut()) == 0
        };
        if installed {
            // SAFETY: registers a handler that only bumps an atomic (it
            // runs in the child right after fork, async-signal-safe).
            unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
            return sig;
        }
    }
    0
}
