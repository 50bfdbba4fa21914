//! SIGINT/SIGTERM as a flag, so `recv` stops between two messages and never
//! between receiving a message and printing it.

use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signo: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    CAUGHT.store(signo, Ordering::SeqCst);
}

/// Installs the flag-setting handler for SIGINT and SIGTERM. Without
/// SA_RESTART, so a wait in progress returns early (pmq reports
/// `Interrupted`, with nothing received) and the caller sees the flag.
pub fn install() -> io::Result<()> {
    for signo in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `sa` is fully initialised (zeroed, then the mask emptied
        // and the handler set) before sigaction reads it; the handler is an
        // `extern "C" fn(c_int)` that only stores to an atomic, which is
        // async-signal-safe; the old-action pointer may be null.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = 0;
            libc::sigaction(signo, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The signal caught since [`install`], if any.
pub fn caught() -> Option<i32> {
    match CAUGHT.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}
