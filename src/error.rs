//! Errors of the safe core: a kind (mapped 1:1 to a C status code), the OS
//! error number when there is one, and a human-readable detail that says what
//! went wrong and how to fix it.

use std::borrow::Cow;
use std::fmt;

/// What kind of failure happened. Each kind is one status code, the same in
/// every binding: its discriminant ([`ErrorKind::code`], the C ABI's
/// `pmq_status`, whose names and texts the C ABI crate lists).
///
/// Not `#[non_exhaustive]`: the C ABI matches it exhaustively, so a new kind
/// cannot be added without its C status (a compile error there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    /// A "try once" call (timeout 0, or a non-blocking handle) could not complete now.
    WouldBlock = 1,
    /// A bounded wait ran out before the call could complete.
    TimedOut = 2,
    /// A resource is held by someone else (e.g. another process's notification registration).
    Busy = 3,
    /// The queue exists and exclusive creation was asked for.
    Exists = 4,
    /// The queue does not exist (and creation was not asked for).
    NotFound = 5,
    /// Permission denied: by the queue's mode, or by the handle's read/write access.
    Permission = 6,
    /// A signal arrived during a wait and its handler returned; nothing was sent or received.
    Interrupted = 7,
    /// An argument is invalid (name, flags, priority, timeout, sizes...).
    InvalidArgument = 8,
    /// The message is larger than the queue's max_message_size.
    MessageTooLarge = 9,
    /// The receive buffer is smaller than the queue's max_message_size.
    BufferTooSmall = 10,
    /// A system limit was hit (msg_max, msgsize_max, queues_max, RLIMIT_MSGQUEUE, descriptors).
    SystemLimit = 11,
    /// The handle was closed.
    Closed = 12,
    /// The kernel is out of memory.
    OutOfMemory = 13,
    /// Any other operating-system error.
    Os = 14,
    /// The operation is not supported here.
    NotSupported = 16,
    /// A queue's shared state is damaged or was written by an incompatible
    /// build (shared-memory backend).
    ///
    /// Whatever bytes a shared-memory queue's file holds, and whatever
    /// another process does to it while it is open (overwrites, truncation,
    /// holes punched out), a call returns this (with a detail naming the
    /// field and value, or the cause), never a signal or a panic: every
    /// value read from the file is range-checked before use. A handle whose
    /// file shrank under it returns it from then on. pmq installs a SIGBUS
    /// handler for its mappings the first time it maps a queue; faults
    /// elsewhere go to the previous handler or the default action. Every
    /// process the file's mode lets write it is trusted: it can destroy the
    /// queue's messages, but not make pmq touch memory outside the file -
    /// except, until layout version 3, through the glibc robust mutex's
    /// list words (bytes 152-167), which glibc follows as pointers. See
    /// PMQ_STATUS_CORRUPTED in pmq.h for the whole contract.
    Corrupted = 17,
    /// A lease ([`Queue::ack`](crate::Queue::ack),
    /// [`Queue::nack`](crate::Queue::nack)) is no longer this handle's: it
    /// was acked or nacked already, its visibility timeout passed (the
    /// message went back to the queue, and may have been delivered again),
    /// or it was never one of this handle's. The detail says which.
    LeaseLost = 18,
}

impl ErrorKind {
    /// The status code of this kind (the C ABI's `pmq_status` value).
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// True for the kinds the reference reports as `BusyError`
    /// (would block, timed out, notification held elsewhere).
    pub const fn is_busy(self) -> bool {
        matches!(
            self,
            ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Busy
        )
    }
}

/// An error from pmq: kind, optional errno, and a detail that names the cause and the fix.
///
/// Errors on the hot path (would block, timed out) carry static details and
/// never allocate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    errno: i32,
    detail: Cow<'static, str>,
    /// Extra number for some kinds: the buffer size needed for `BufferTooSmall`.
    needed: usize,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<Cow<'static, str>>) -> Self {
        Error {
            kind,
            errno: 0,
            detail: detail.into(),
            needed: 0,
        }
    }

    pub(crate) const fn fixed(kind: ErrorKind, detail: &'static str) -> Self {
        Error {
            kind,
            errno: 0,
            detail: Cow::Borrowed(detail),
            needed: 0,
        }
    }

    /// A signal handler ran during the call (EINTR) and `retry_on_interrupt` is off.
    pub(crate) const INTERRUPTED: Error = Error {
        kind: ErrorKind::Interrupted,
        errno: libc::EINTR,
        detail: Cow::Borrowed(
            "a signal arrived during the wait and its handler returned; nothing was sent or \
             received, call again (or open with retry_on_interrupt to retry automatically)",
        ),
        needed: 0,
    };

    pub(crate) fn with_errno(mut self, errno: i32) -> Self {
        self.errno = errno;
        self
    }

    pub(crate) fn with_needed(mut self, needed: usize) -> Self {
        self.needed = needed;
        self
    }

    /// The error of message `i` of a batch of `n`: the detail says which.
    pub(crate) fn in_batch(mut self, i: usize, n: usize) -> Self {
        self.detail = format!("message {i} of the batch of {n}: {}", self.detail).into();
        self
    }

    pub(crate) fn invalid(detail: impl Into<Cow<'static, str>>) -> Self {
        Error::new(ErrorKind::InvalidArgument, detail)
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The OS error number behind the failure, or 0 when pmq detected it itself.
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The human-readable detail: what was wrong and how to fix it.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Takes the detail out without copying (a static text stays static).
    pub fn into_detail(self) -> Cow<'static, str> {
        self.detail
    }

    /// For `BufferTooSmall`: the buffer size the call needs. 0 otherwise.
    pub fn needed(&self) -> usize {
        self.needed
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for Error {}

/// The result type of the core.
pub type Result<T> = std::result::Result<T, Error>;

/// Text of an OS error number (strerror), without allocation by the caller.
pub(crate) fn errno_text(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_kinds_are_the_references_busy_error() {
        assert!(ErrorKind::WouldBlock.is_busy());
        assert!(ErrorKind::TimedOut.is_busy());
        assert!(ErrorKind::Busy.is_busy());
        assert!(!ErrorKind::Closed.is_busy());
        assert_eq!(ErrorKind::Corrupted.code(), 17);
    }
}
