//! Futex waits and wakes on words of a queue file, deadlines on the
//! monotonic clock, and whether a lock's holder is running (a leaf: it
//! knows nothing of the file's layout).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use crate::backend::Wake;
use crate::error::{errno_text, Error, ErrorKind};

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
            e => Wake::Failed(os_error("futex wait", e)),
        };
    }
}

/// Wakes up to `n` waiters of `word`.
pub(super) fn futex_wake(word: &AtomicU32, n: i32) {
    // SAFETY: `word` is a valid u32 in a live mapping; FUTEX_WAKE reads no
    // other argument.
    unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, n) };
}

fn os_error(what: &str, e: i32) -> Error {
    Error::new(ErrorKind::Os, format!("{what} failed: {}", errno_text(e))).with_errno(e)
}
