//! Futex waits, the holder check of a contended lock, and opener liveness
//! locks (the robust locks themselves: `lock`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::errors;
use super::layout::{LOCK_BASE, OPENERS};
use super::map::Mapping;
use crate::backend::Wake;
use crate::error::Result;

pub(super) use crate::backend::sys::{deadline_after, errno};

/// Whether thread `tid` (the lock word's owner) is running, i.e. neither
/// stopped (SIGSTOP, a debugger: state T or t) nor gone: read from
/// `/proc/<tid>/stat`. None when it cannot be told (no such thread in this
/// pid namespace, /proc not mounted, a zero owner).
pub(super) fn holder_running(tid: u32) -> Option<bool> {
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
            let rec = m.opener(i);
            rec.gen.fetch_add(1, Ordering::Relaxed);
            // A receipt the previous holder left names a dead receiver: keep
            // its pid (before ours replaces it) for `dead_receipts`. Stored
            // before the pid, which a reader loads first (Acquire).
            if rec.receipt_seq.load(Ordering::Relaxed) != 0
                && rec.receipt_pid.load(Ordering::Relaxed) == 0
            {
                rec.receipt_pid
                    .store(rec.pid.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            // SAFETY: getpid has no preconditions.
            rec.pid
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
