//! The system calls every backend shares: errno, monotonic deadlines, the
//! OS random source and threads started with every signal blocked. A leaf:
//! it imports nothing of pmq but the error type.

use std::io;
use std::thread::{Builder, JoinHandle};
use std::time::Duration;

use crate::error::{errno_text, Error, ErrorKind, Result};

/// The calling thread's errno (0 if none).
pub(crate) fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Now + `d` on CLOCK_MONOTONIC, as a timespec (saturating).
pub(crate) fn deadline_after(d: Duration) -> libc::timespec {
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

/// Fills `buf` from the OS random source (getrandom(2)); `what` names what
/// the bytes are for, in the detail of a failure.
pub(crate) fn os_random(buf: &mut [u8], what: &str) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`,
        // which is valid for writes for that many bytes.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let errno = errno();
            if errno == libc::EINTR {
                continue;
            }
            return Err(Error::new(
                ErrorKind::Os,
                format!(
                    "cannot read the OS random source for {what}: {}",
                    errno_text(errno)
                ),
            )
            .with_errno(errno));
        }
        filled += n as usize;
    }
    Ok(())
}

/// Blocks (SIG_BLOCK), unblocks (SIG_UNBLOCK) or sets (SIG_SETMASK) every
/// signal for the calling thread; returns the previous mask.
fn set_all_signals(how: libc::c_int) -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset initialises it fully, and
    // pthread_sigmask reads `all` and writes `old`, both valid.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(how, &all, &mut old);
        old
    }
}

/// Every signal blocked for the calling thread until this is dropped
/// (then its mask is what it was).
pub(crate) struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    pub(crate) fn new() -> SignalsBlocked {
        SignalsBlocked(set_all_signals(libc::SIG_BLOCK))
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: `self.0` is the mask saved by `new`; restoring it is valid.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// Starts `f` on a thread built by `builder` with every signal blocked: a
/// pmq helper thread must not take the process's signals (they belong to
/// the program's own threads). Threads it starts inherit the mask; a user
/// callback should run after [`unblock_all_signals`]. The caller's mask is
/// unchanged when this returns.
pub(crate) fn spawn_with_signals_blocked<F, T>(builder: Builder, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // A new thread starts with its creator's mask.
    let _blocked = SignalsBlocked::new();
    builder.spawn(f)
}

/// Unblocks every signal for the calling thread: a user callback run on a
/// helper thread gets signals as glibc's SIGEV_THREAD callbacks do.
pub(crate) fn unblock_all_signals() {
    set_all_signals(libc::SIG_UNBLOCK);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calling thread's current mask.
    fn mask() -> libc::sigset_t {
        // SAFETY: a null new set only reads the mask into `cur`, which is valid.
        unsafe {
            let mut cur: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur);
            cur
        }
    }

    fn blocked(set: &libc::sigset_t, signo: i32) -> bool {
        // SAFETY: `set` is an initialised sigset_t.
        unsafe { libc::sigismember(set, signo) == 1 }
    }

    /// The thread runs with every signal blocked, its callbacks can unblock
    /// them, and the caller's mask is left as it was.
    #[test]
    fn spawned_threads_block_every_signal_and_callers_keep_their_mask() {
        let before = mask();
        assert!(!blocked(&before, libc::SIGUSR1));
        let t = spawn_with_signals_blocked(Builder::new().name("pmq-test".into()), || {
            let inside = mask();
            unblock_all_signals();
            let after = mask();
            (
                blocked(&inside, libc::SIGUSR1) && blocked(&inside, libc::SIGTERM),
                blocked(&after, libc::SIGUSR1),
            )
        })
        .unwrap();
        assert_eq!(t.join().unwrap(), (true, false));
        assert!(!blocked(&mask(), libc::SIGUSR1));
        assert!(!blocked(&mask(), libc::SIGTERM));
    }

    #[test]
    fn deadlines_are_ahead_on_the_monotonic_clock() {
        let a = deadline_after(Duration::ZERO);
        let b = deadline_after(Duration::from_secs(5));
        assert!(b.tv_sec >= a.tv_sec + 4 && (0..1_000_000_000).contains(&b.tv_nsec));
        let far = deadline_after(Duration::MAX);
        assert_eq!(far.tv_sec, libc::time_t::MAX);
    }
}
