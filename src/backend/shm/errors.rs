//! The errors of this backend: each detail names the cause and the fix.
//! The corruption details of the hot path are out of line (`#[cold]`), so
//! push and take keep no formatting code.

use std::time::Duration;

use super::dir::{free_space, path_of, SHM_DIR};
use super::layout::*;
use super::map::Mapping;
use crate::backend::OpenRequest;
use crate::error::{errno_text, Error, ErrorKind};

pub(super) fn corrupt(what: &str) -> Error {
    Error::new(
        ErrorKind::Corrupted,
        format!(
            "the queue file is corrupted: {what}; it was written by something other than pmq \
             (remove it with `rm {SHM_DIR}/pmq.NAME` or pmq's unlink and create it again)"
        ),
    )
}

/// A try-once call found the lock held for longer than it waits.
pub(super) fn lock_busy_now(waited: Duration) -> Error {
    Error::new(
        ErrorKind::WouldBlock,
        format!(
            "the queue's lock is held by another thread or process that has not released it \
             within {} ms (stopped by SIGSTOP or a debugger, or descheduled); a try-once call \
             does not wait for it: try again later, wait with a timeout, or resume that process",
            waited.as_millis()
        ),
    )
    .with_errno(libc::EAGAIN)
}

/// A timed call's deadline passed while another process held the lock.
pub(super) fn lock_timed_out() -> Error {
    Error::new(
        ErrorKind::TimedOut,
        "the queue's lock was held by another process for the whole timeout (it is stopped, \
         e.g. by SIGSTOP or a debugger, inside a call); nothing was moved: resume that process \
         or try again",
    )
    .with_errno(libc::ETIMEDOUT)
}

/// The handle was closed (or a helper stopped) while waiting for the lock.
pub(super) fn lock_given_up() -> Error {
    Error::new(
        ErrorKind::Closed,
        "the handle was closed while this call waited for the queue's lock (held by a stopped \
         process); nothing was moved",
    )
}

pub(super) fn wedged(after: Duration) -> Error {
    Error::new(
        ErrorKind::Busy,
        format!(
            "the queue's lock has been held for more than {} s: its owner is stopped (SIGSTOP, \
             a debugger) or was lost without the kernel releasing it; resume that process, or \
             unlink the queue and create it again",
            after.as_secs()
        ),
    )
    .with_errno(libc::ETIMEDOUT)
}

pub(super) fn os(what: &str, e: i32) -> Error {
    Error::new(ErrorKind::Os, format!("{what} failed: {}", errno_text(e))).with_errno(e)
}

pub(super) fn too_many_openers() -> Error {
    Error::new(
        ErrorKind::SystemLimit,
        format!(
            "the queue already has {OPENERS} open handles (the most a shared-memory queue takes); \
             close some"
        ),
    )
}

pub(super) fn unlink_error(name: &str, e: i32) -> Error {
    let err = match e {
        libc::ENOENT => Error::new(
            ErrorKind::NotFound,
            format!("shared-memory queue {name} does not exist (already unlinked?)"),
        ),
        libc::EACCES | libc::EPERM => Error::new(
            ErrorKind::Permission,
            format!(
                "permission denied unlinking {name}: only its owner (or root) may remove {}",
                path_of(name)
            ),
        ),
        e => os(&format!("unlink({})", path_of(name)), e),
    };
    err.with_errno(e)
}

pub(super) fn open_error(req: &OpenRequest<'_>, e: i32) -> Error {
    let name = req.name;
    let path = path_of(name);
    let err = match e {
        libc::ENOENT => Error::new(
            ErrorKind::NotFound,
            format!("shared-memory queue {name} does not exist; open it with O_CREAT to create it"),
        ),
        libc::EEXIST => Error::new(
            ErrorKind::Exists,
            format!(
                "shared-memory queue {name} already exists and exclusive creation (O_EXCL) was \
                 asked for; open it without O_EXCL, or unlink it first"
            ),
        ),
        libc::EACCES | libc::EPERM => Error::new(
            ErrorKind::Permission,
            format!(
                "permission denied: {path}'s mode or owner does not let this user map it \
                 read-write (every handle of a shared-memory queue needs read and write \
                 permission on its file, even a receive-only one); ls -l {path}; chmod as its owner"
            ),
        ),
        libc::EMFILE => Error::new(
            ErrorKind::SystemLimit,
            "this process is at its descriptor limit (RLIMIT_NOFILE); close some handles or \
             raise it with `ulimit -n`",
        ),
        libc::ENFILE => Error::new(
            ErrorKind::SystemLimit,
            "the system-wide limit on open files was reached (fs.file-max)",
        ),
        libc::ENOMEM => Error::new(
            ErrorKind::OutOfMemory,
            format!("out of memory mapping {path}"),
        ),
        e => os(&format!("open({path})"), e),
    };
    err.with_errno(e)
}

/// ENOSPC at create: how much was asked, how much is left, how to grow it.
pub(super) fn no_space(req: &OpenRequest<'_>, size: usize) -> Error {
    let left = free_space().map_or_else(|| "unknown".to_string(), bytes);
    Error::new(
        ErrorKind::SystemLimit,
        format!(
            "{SHM_DIR} has no room for queue {} ({} x {} bytes needs a {} file, {left} free); \
             remove unused queues, create a smaller one, or grow {SHM_DIR} (as root: mount -o \
             remount,size=2G {SHM_DIR}; in Docker: --shm-size=2g)",
            req.name,
            req.max_messages,
            req.max_message_size,
            bytes(size as u64)
        ),
    )
    .with_errno(libc::ENOSPC)
}

pub(super) fn bytes(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// An existing queue file with unallocated pages and no room to allocate
/// them: refused at open (touching such a page later would be SIGBUS).
pub(super) fn holes_no_space(
    req: &OpenRequest<'_>,
    allocated: u64,
    shape: &Shape,
    e: i32,
) -> Error {
    let left = free_space().map_or_else(|| "unknown".to_string(), bytes);
    Error::new(
        ErrorKind::SystemLimit,
        format!(
            "queue {}'s file has only {} of its {} allocated (a sparse copy, or pages punched \
             out of it) and {SHM_DIR} has no room for the rest ({left} free); remove unused \
             queues or files in {SHM_DIR}, or grow it (as root: mount -o remount,size=2G \
             {SHM_DIR}; in Docker: --shm-size=2g)",
            req.name,
            bytes(allocated),
            bytes(shape.file_size as u64)
        ),
    )
    .with_errno(e)
}

/// A slot's length passed the max_message_size check but not the buffer's
/// (which holds at least max_message_size bytes): the shape is corrupt.
#[cold]
pub(super) fn too_long() -> Error {
    corrupt("a message is longer than the receive buffer of max_message_size bytes")
}

/// The detail of a damaged mapping: the file shrank, or a page of it could
/// not be allocated.
#[cold]
#[inline(never)]
pub(super) fn damage(m: &Mapping) -> Error {
    let need = m.shape.file_size as u64;
    match m.file_size_now() {
        Some(now) if now < need => corrupt(&format!(
            "the file was truncated to {now} bytes while this handle had it mapped (the queue \
             needs {need}); every call on this handle now returns this error"
        )),
        _ => corrupt(&format!(
            "a page of the file could not be read while this handle had it mapped (a hole \
             punched into it, with no room in {SHM_DIR} to allocate the page, or the file \
             shrank for a while); every call on this handle now returns this error"
        )),
    }
}

/// The detail of a header that no longer names the queue: the file shrank
/// (cut inside its first page: no fault, the rest of the page reads zeros)
/// or was overwritten.
#[cold]
#[inline(never)]
pub(super) fn header_gone(m: &Mapping) -> Error {
    match m.file_size_now() {
        Some(now) if now < m.shape.file_size as u64 => damage(m),
        _ if m.damaged() => damage(m),
        _ => corrupt(
            "the header's magic or capacity changed while this handle had the queue open (the \
             file was overwritten)",
        ),
    }
}
