//! Opener liveness locks (OFD locks on one byte per opener record) and
//! the claim of a record (futex waits: `futex`; the robust locks: `lock`).

use std::sync::atomic::Ordering;

use super::errors;
use super::layout::{LOCK_BASE, OPENERS};
use super::map::Mapping;
use crate::error::Result;

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

/// Whether opener `i`'s liveness lock is held by an open file description
/// other than `fd`'s (None: the probe failed).
pub(super) fn lock_held(fd: i32, i: u32) -> Option<bool> {
    match ofd_lock(fd, libc::F_OFD_GETLK, libc::F_WRLCK as libc::c_short, i) {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// Whether opener `i` is held by a live handle other than ours (an OFD
/// lock of another open file description).
pub(super) fn opener_alive(m: &Mapping, i: u32) -> bool {
    i < OPENERS && ofd_lock(m.fd, libc::F_OFD_GETLK, libc::F_WRLCK as libc::c_short, i) == 1
}
