//! Errors of the safe core: a kind (mapped 1:1 to a C status code), the OS
//! error number when there is one, and a human-readable detail that says what
//! went wrong and how to fix it.

use std::borrow::Cow;
use std::fmt;

/// What kind of failure happened. Each kind maps to one C status code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A "try once" call (timeout 0, or a non-blocking handle) could not complete now.
    WouldBlock,
    /// A bounded wait ran out before the call could complete.
    TimedOut,
    /// A resource is held by someone else (e.g. another process's notification registration).
    Busy,
    /// The queue exists and exclusive creation was asked for.
    Exists,
    /// The queue does not exist (and creation was not asked for).
    NotFound,
    /// Permission denied: by the queue's mode, or by the handle's read/write access.
    Permission,
    /// A signal arrived during a wait and its handler returned; nothing was sent or received.
    Interrupted,
    /// An argument is invalid (name, flags, priority, timeout, sizes...).
    InvalidArgument,
    /// The message is larger than the queue's max_message_size.
    MessageTooLarge,
    /// The receive buffer is smaller than the queue's max_message_size.
    BufferTooSmall,
    /// A system limit was hit (msg_max, msgsize_max, queues_max, RLIMIT_MSGQUEUE, descriptors).
    SystemLimit,
    /// The handle was closed.
    Closed,
    /// The kernel is out of memory.
    OutOfMemory,
    /// Any other operating-system error.
    Os,
    /// The operation is not supported here.
    NotSupported,
}

impl ErrorKind {
    /// A short, stable description of the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::WouldBlock => "operation would block",
            ErrorKind::TimedOut => "timed out",
            ErrorKind::Busy => "resource busy",
            ErrorKind::Exists => "queue already exists",
            ErrorKind::NotFound => "queue not found",
            ErrorKind::Permission => "permission denied",
            ErrorKind::Interrupted => "interrupted by a signal",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::MessageTooLarge => "message too large",
            ErrorKind::BufferTooSmall => "buffer too small",
            ErrorKind::SystemLimit => "system limit reached",
            ErrorKind::Closed => "handle is closed",
            ErrorKind::OutOfMemory => "out of memory",
            ErrorKind::Os => "operating system error",
            ErrorKind::NotSupported => "not supported",
        }
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

    pub(crate) fn with_errno(mut self, errno: i32) -> Self {
        self.errno = errno;
        self
    }

    pub(crate) fn with_needed(mut self, needed: usize) -> Self {
        self.needed = needed;
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
    pub(crate) fn into_detail(self) -> Cow<'static, str> {
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
