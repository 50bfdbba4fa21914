//! The robust lock, futex waits and opener liveness locks.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use super::errors;
use super::layout::{
    LOCK_BASE, OFF_MUTEX, OPENERS, OPENER_GEN, OPENER_PID, OPENER_RECEIPT_PID, OPENER_RECEIPT_SEQ,
};
use super::map::Mapping;
use crate::backend::Wake;
use crate::error::Result;

pub(super) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The queue's lock, held; unlocked on drop.
pub(super) struct Guard<'a>(&'a Mapping);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        // SAFETY: this thread holds the mutex (Guard exists only after a
        // successful lock).
        unsafe { libc::pthread_mutex_unlock(self.0.mutex(OFF_MUTEX)) };
    }
}

extern "C" {
    /// glibc 2.30+: a timed lock on a chosen clock (libc does not declare it).
    fn pthread_mutex_clocklock(
        m: *mut libc::pthread_mutex_t,
        clock: libc::clockid_t,
        abstime: *const libc::timespec,
    ) -> libc::c_int;
}

/// How long a lock may take before pmq calls it wedged (a critical section
/// is a few hundred nanoseconds; only a stopped or lost owner holds it
/// this long).
const WEDGED_AFTER: Duration = Duration::from_secs(10);

/// Takes the queue's lock. When its previous owner died inside it, runs
/// `repair` (which rebuilds the queue from the slot states) and marks the
/// lock consistent again.
/// Trylock attempts on a contended lock before waiting in the kernel.
const LOCK_SPINS: u32 = 100;

#[inline(always)]
pub(super) fn lock<'a>(m: &'a Mapping, repair: impl Fn()) -> Result<Guard<'a>> {
    // SAFETY: the mutex is the process-shared robust mutex initialised at
    // create (checked at open) inside a live mapping.
    let r = unsafe { libc::pthread_mutex_trylock(m.mutex(OFF_MUTEX)) };
    if r == 0 {
        return Ok(Guard(m));
    }
    // Everything else (contention, a dead owner, errors) stays out of line,
    // so the uncontended lock adds no stack frame to its callers' hot path.
    lock_slow(m, r, &repair)
}

/// Contended (`first` is EBUSY): the holder's critical section is short, so
/// spin a little on trylock before sleeping in the kernel. Returns the last
/// trylock's result (still EBUSY if the spin did not get the lock).
fn spin_trylock(mx: *mut libc::pthread_mutex_t, first: i32) -> i32 {
    let mut r = first;
    let mut spins = 0;
    while r == libc::EBUSY && spins < LOCK_SPINS {
        std::hint::spin_loop();
        spins += 1;
        // SAFETY: `mx` is the queue's process-shared robust mutex inside a
        // live mapping (as in `lock`).
        r = unsafe { libc::pthread_mutex_trylock(mx) };
    }
    r
}

#[cold]
#[inline(never)]
fn lock_slow<'a>(m: &'a Mapping, first: i32, repair: &dyn Fn()) -> Result<Guard<'a>> {
    let mx = m.mutex(OFF_MUTEX);
    let mut r = spin_trylock(mx, first);
    if r == libc::EBUSY {
        // Contended: wait in slices on a monotonic clock, never forever.
        let end = deadline_after(WEDGED_AFTER);
        // SAFETY: as above; `end` is a valid timespec.
        r = unsafe { pthread_mutex_clocklock(mx, libc::CLOCK_MONOTONIC, &end) };
    }
    match r {
        libc::ETIMEDOUT => Err(errors::wedged(WEDGED_AFTER)),
        r => locked(m, r, repair),
    }
}

/// How long [`lock_within`] may wait for a lock another thread or process
/// holds.
pub(super) enum LockWait<'a> {
    /// A try-once call: at most [`BRIEF`], then a WouldBlock error.
    Brief,
    /// Until an absolute CLOCK_MONOTONIC time (None: no limit), then a
    /// TimedOut error; a Closed error as soon as `give_up` is set (checked
    /// every [`SLICE`]: close of the handle, a helper told to stop).
    Until(Option<libc::timespec>, &'a AtomicBool),
}

/// The longest a try-once call waits for the lock. A critical section is a
/// few hundred nanoseconds; this covers a holder descheduled for a time
/// slice on a busy machine, and nothing longer: a holder stopped (SIGSTOP,
/// a debugger) costs a try-once call this much, not the holder's stop.
pub(super) const BRIEF: Duration = Duration::from_millis(10);
/// The longest a try-once call waits for a holder that is running (not
/// stopped): one descheduled for several time slices on a loaded machine
/// still releases the lock well within this.
pub(super) const BRIEF_RUNNING: Duration = Duration::from_millis(250);

/// Whether thread `tid` (the lock word's owner) is running, i.e. neither
/// stopped (SIGSTOP, a debugger: state T or t) nor gone: read from
/// `/proc/<tid>/stat`. None when it cannot be told (no such thread in this
/// pid namespace, /proc not mounted, a zero owner).
fn holder_running(tid: u32) -> Option<bool> {
    if tid == 0 {
        return None;
    }
    let stat = std::fs::read(format!("/proc/{tid}/stat")).ok()?;
    // "pid (comm) S ...": comm may hold spaces and ')', so the state is the
    // first field after the last ')'.
    let close = stat.iter().rposition(|&b| b == b')')?;
    let state = *stat.get(close + 2)?;
    Some(!matches!(state, b'T' | b't' | b'X' | b'Z'))
}

/// How often a longer lock wait looks at its `give_up` flag.
const SLICE: Duration = Duration::from_millis(20);

/// Takes the queue's lock, waiting for it only as `wait` says (evaluated
/// only when the lock is contended). A dead owner is repaired as in
/// [`lock`], whenever during the wait it dies.
#[inline(always)]
pub(super) fn lock_within<'a, 'w>(
    m: &'a Mapping,
    repair: impl Fn(),
    wait: impl FnOnce() -> LockWait<'w>,
) -> Result<Guard<'a>> {
    // SAFETY: as in `lock`.
    let r = unsafe { libc::pthread_mutex_trylock(m.mutex(OFF_MUTEX)) };
    if r == 0 {
        return Ok(Guard(m));
    }
    lock_within_slow(m, r, &repair, wait())
}

#[cold]
#[inline(never)]
fn lock_within_slow<'a>(
    m: &'a Mapping,
    first: i32,
    repair: &dyn Fn(),
    wait: LockWait<'_>,
) -> Result<Guard<'a>> {
    let mx = m.mutex(OFF_MUTEX);
    let mut r = spin_trylock(mx, first);
    if r == libc::EBUSY {
        match wait {
            LockWait::Brief => {
                // In BRIEF slices while the holder is running (merely
                // descheduled on a busy machine: it will release soon), at
                // most BRIEF_RUNNING in all; at once when it is stopped or
                // cannot be seen (another pid namespace).
                let mut waited = Duration::ZERO;
                loop {
                    let end = deadline_after(BRIEF);
                    // SAFETY: as in `lock`; `end` is a valid timespec.
                    r = unsafe { pthread_mutex_clocklock(mx, libc::CLOCK_MONOTONIC, &end) };
                    if r != libc::ETIMEDOUT {
                        break;
                    }
                    waited += BRIEF;
                    let owner = m.u32(OFF_MUTEX).load(Ordering::Relaxed) & libc::FUTEX_TID_MASK;
                    if waited >= BRIEF_RUNNING || holder_running(owner) != Some(true) {
                        return Err(errors::lock_busy_now(waited));
                    }
                }
            }
            LockWait::Until(deadline, give_up) => loop {
                let slice = deadline_after(SLICE);
                let end = match deadline {
                    Some(d) if before(&d, &slice) => d,
                    _ => slice,
                };
                // SAFETY: as in `lock`; `end` is a valid timespec.
                r = unsafe { pthread_mutex_clocklock(mx, libc::CLOCK_MONOTONIC, &end) };
                if r != libc::ETIMEDOUT {
                    break;
                }
                if deadline.is_some_and(|d| !before(&deadline_after(Duration::ZERO), &d)) {
                    return Err(errors::lock_timed_out());
                }
                if give_up.load(Ordering::SeqCst) {
                    return Err(errors::lock_given_up());
                }
            },
        }
    }
    locked(m, r, repair)
}

/// Whether `a` is earlier than `b`.
fn before(a: &libc::timespec, b: &libc::timespec) -> bool {
    (a.tv_sec, a.tv_nsec) < (b.tv_sec, b.tv_nsec)
}

/// The outcome of a lock attempt `r` (0, EOWNERDEAD or an error).
fn locked<'a>(m: &'a Mapping, r: i32, repair: &dyn Fn()) -> Result<Guard<'a>> {
    let mx = m.mutex(OFF_MUTEX);
    match r {
        0 => Ok(Guard(m)),
        libc::EOWNERDEAD => {
            let g = Guard(m);
            repair();
            if m.damaged() {
                // The repair read pages the file no longer has (and so
                // stopped before it rebuilt anything): unlocked without
                // marking it consistent, the lock stays unrecoverable, and
                // every opener is told, rather than trusting a rebuild
                // from zeros.
                drop(g);
                return Err(super::errors::damage(m));
            }
            // SAFETY: this thread holds the mutex in the owner-died state.
            unsafe { libc::pthread_mutex_consistent(mx) };
            Ok(g)
        }
        libc::ENOTRECOVERABLE => Err(errors::corrupt(
            "the queue's lock is unrecoverable (its owner died and the repair was not completed)",
        )),
        e => Err(errors::corrupt(&format!(
            "the queue's lock failed: {}",
            crate::error::errno_text(e)
        ))),
    }
}

/// Initialises the lock of a new queue file: process-shared and robust.
pub(super) fn init_lock(m: &Mapping) -> std::result::Result<(), i32> {
    // SAFETY: attr is initialised by pthread_mutexattr_init before use and
    // destroyed after; the mutex lies in the (not yet visible) new file.
    unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        let mut r = libc::pthread_mutexattr_init(&mut attr);
        if r == 0 {
            r = libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
        }
        if r == 0 {
            r = libc::pthread_mutexattr_setrobust(&mut attr, libc::PTHREAD_MUTEX_ROBUST);
        }
        if r == 0 {
            r = libc::pthread_mutex_init(m.mutex(OFF_MUTEX), &attr);
        }
        libc::pthread_mutexattr_destroy(&mut attr);
        if r == 0 {
            Ok(())
        } else {
            Err(r)
        }
    }
}

/// Now + `d` on CLOCK_MONOTONIC, as a timespec (saturating).
pub(super) fn deadline_after(d: Duration) -> libc::timespec {
    // SAFETY: `now` is a valid timespec for clock_gettime to fill.
    let mut now: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let nanos = now.tv_nsec as u64 + u64::from(d.subsec_nanos());
    let secs = (now.tv_sec as u64)
        .saturating_add(d.as_secs())
        .saturating_add(nanos / 1_000_000_000)
        .min(libc::time_t::MAX as u64);
    libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
    }
}

/// The longest single futex sleep. A sleeper whose wake-up can no longer
/// reach it re-checks its state this often: when the queue file is
/// truncated under a sleeping thread, the futex it sleeps on belongs to the
/// file's lost page, while a waker of this process (close, a readiness
/// helper's stop) meets the SIGBUS guard's private zero page in its place,
/// a different futex. So close() ends such a sleep within this time, not
/// at once. Costs a sleeping thread one wake-up per slice (a clock read
/// and a look at the guard's mark; it then sleeps again).
const SLEEP_SLICE: Duration = Duration::from_secs(2);

/// Waits while `word` still holds `expected`, until an absolute
/// CLOCK_MONOTONIC `deadline` (None: no limit). Shared (not private) futex:
/// the word lives in a file other processes map.
pub(super) fn futex_wait(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<&libc::timespec>,
) -> Wake {
    loop {
        // One sleep lasts at most SLEEP_SLICE; at its end the sleeper goes
        // on sleeping unless its mapping is damaged (then a spurious
        // wake-up: every caller looks again, and meets the damage).
        let slice = deadline_after(SLEEP_SLICE);
        let (ts, sliced) = match deadline {
            Some(d) if (d.tv_sec, d.tv_nsec) <= (slice.tv_sec, slice.tv_nsec) => {
                (d as *const libc::timespec, false)
            }
            _ => (&slice as *const libc::timespec, true),
        };
        // SAFETY: `word` is a valid, aligned u32 in a live mapping; `ts` is
        // a valid timespec; FUTEX_WAIT_BITSET takes an absolute time on
        // CLOCK_MONOTONIC (no FUTEX_CLOCK_REALTIME flag).
        let r = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT_BITSET,
                expected,
                ts,
                std::ptr::null::<u32>(),
                libc::FUTEX_BITSET_MATCH_ANY,
            )
        };
        if r == 0 {
            return Wake::Ready;
        }
        return match errno() {
            libc::EAGAIN => Wake::Ready, // the word changed before we slept
            libc::ETIMEDOUT if sliced => {
                if super::bus::damaged_at(word.as_ptr() as usize) {
                    Wake::Ready
                } else {
                    continue;
                }
            }
            libc::ETIMEDOUT => Wake::Elapsed,
            libc::EINTR => Wake::Interrupted,
            e => Wake::Failed(errors::os("futex wait", e)),
        };
    }
}

/// Wakes up to `n` waiters of `word`.
pub(super) fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: `word` is a valid u32 in a live mapping; FUTEX_WAKE reads no
    // other argument.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n) };
}

fn ofd_lock(fd: i32, cmd: libc::c_int, kind: libc::c_short, index: u32) -> libc::c_int {
    // SAFETY: flock is plain data; all-zero is valid.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = LOCK_BASE + i64::from(index);
    fl.l_len = 1;
    // SAFETY: `fl` is a valid flock for an OFD lock command on our own descriptor.
    let r = unsafe { libc::fcntl(fd, cmd, &mut fl) };
    if cmd == libc::F_OFD_GETLK && r == 0 {
        return if fl.l_type == libc::F_UNLCK as libc::c_short {
            0
        } else {
            1
        };
    }
    r
}

/// Takes the creator lock of a (temporary) queue file; true when taken.
pub(super) fn creator_lock(fd: i32) -> bool {
    ofd_lock(
        fd,
        libc::F_OFD_SETLK,
        libc::F_WRLCK as libc::c_short,
        OPENERS,
    ) == 0
}

/// Claims a free opener record: the first whose liveness lock no open
/// file description holds (its handle closed, or its process died).
pub(super) fn claim_opener(m: &Mapping) -> Result<u32> {
    for i in 0..OPENERS {
        if ofd_lock(m.fd, libc::F_OFD_SETLK, libc::F_WRLCK as libc::c_short, i) == 0 {
            super::kp!("open.claimed");
            let rec = m.shape.opener(i);
            m.u32(rec + OPENER_GEN).fetch_add(1, Ordering::Relaxed);
            // A receipt the previous holder left names a dead receiver: keep
            // its pid (before ours replaces it) for `dead_receipts`. Stored
            // before the pid, which a reader loads first (Acquire).
            let carried = m.u32(rec + OPENER_RECEIPT_PID);
            if m.u64(rec + OPENER_RECEIPT_SEQ).load(Ordering::Relaxed) != 0
                && carried.load(Ordering::Relaxed) == 0
            {
                carried.store(
                    m.u32(rec + OPENER_PID).load(Ordering::Relaxed),
                    Ordering::Relaxed,
                );
            }
            // SAFETY: getpid has no preconditions.
            m.u32(rec + OPENER_PID)
                .store(unsafe { libc::getpid() } as u32, Ordering::Release);
            return Ok(i);
        }
    }
    Err(errors::too_many_openers())
}

/// Whether opener `i` is held by a live handle other than ours (an OFD
/// lock of another open file description).
pub(super) fn opener_alive(m: &Mapping, i: u32) -> bool {
    i < OPENERS && ofd_lock(m.fd, libc::F_OFD_GETLK, libc::F_WRLCK as libc::c_short, i) == 1
}
