//! Errors of the safe core: a kind (mapped 1:1 to a C status code), the OS
//! error number when there is one, and a human-readable detail that says what
//! went wrong and how to fix it.

use std::borrow::Cow;
use std::ffi::CStr;
use std::fmt;

/// What kind of failure happened. Each kind is one status code, the same in
/// every binding: its discriminant ([`ErrorKind::code`], the C ABI's
/// `pmq_status`), listed with its name and text in [`STATUSES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
}

/// One status code: what every binding reports for the outcome of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusInfo {
    /// The number (0 is success). Never renumbered; new codes are appended.
    pub code: i32,
    /// The name bindings use for it, e.g. `PMQ_STATUS_TIMED_OUT`.
    pub name: &'static CStr,
    /// What it means, in words.
    pub text: &'static CStr,
    /// The error kind behind it; `None` for success and for a panic caught
    /// at a language boundary (never an error of the Rust API).
    pub kind: Option<ErrorKind>,
}

impl StatusInfo {
    /// [`StatusInfo::name`] as text.
    pub fn name_str(&self) -> &'static str {
        self.name.to_str().unwrap_or("PMQ_STATUS_UNKNOWN")
    }

    /// [`StatusInfo::text`] as text.
    pub fn text_str(&self) -> &'static str {
        self.text.to_str().unwrap_or("unknown status")
    }

    /// True for the statuses the reference reports as `BusyError`.
    pub fn is_busy(&self) -> bool {
        self.kind.is_some_and(ErrorKind::is_busy)
    }
}

const fn row(
    code: i32,
    name: &'static CStr,
    text: &'static CStr,
    kind: Option<ErrorKind>,
) -> StatusInfo {
    StatusInfo {
        code,
        name,
        text,
        kind,
    }
}

/// Every status code, indexed by its number: the one definition the C ABI,
/// the CLI and every binding derive names, texts and kinds from.
pub const STATUSES: [StatusInfo; 18] = {
    use ErrorKind::*;
    [
        row(0, c"PMQ_STATUS_OK", c"success", None),
        row(
            1,
            c"PMQ_STATUS_WOULD_BLOCK",
            c"operation would block (queue full or empty, and no wait was allowed)",
            Some(WouldBlock),
        ),
        row(2, c"PMQ_STATUS_TIMED_OUT", c"timed out", Some(TimedOut)),
        row(
            3,
            c"PMQ_STATUS_BUSY",
            c"resource busy (held by another process)",
            Some(Busy),
        ),
        row(
            4,
            c"PMQ_STATUS_EXISTS",
            c"queue already exists",
            Some(Exists),
        ),
        row(
            5,
            c"PMQ_STATUS_NOT_FOUND",
            c"queue not found",
            Some(NotFound),
        ),
        row(
            6,
            c"PMQ_STATUS_PERMISSION",
            c"permission denied",
            Some(Permission),
        ),
        row(
            7,
            c"PMQ_STATUS_INTERRUPTED",
            c"interrupted by a signal",
            Some(Interrupted),
        ),
        row(
            8,
            c"PMQ_STATUS_INVALID_ARGUMENT",
            c"invalid argument",
            Some(InvalidArgument),
        ),
        row(
            9,
            c"PMQ_STATUS_MESSAGE_TOO_LARGE",
            c"message too large for the queue",
            Some(MessageTooLarge),
        ),
        row(
            10,
            c"PMQ_STATUS_BUFFER_TOO_SMALL",
            c"buffer too small",
            Some(BufferTooSmall),
        ),
        row(
            11,
            c"PMQ_STATUS_SYSTEM_LIMIT",
            c"system limit reached",
            Some(SystemLimit),
        ),
        row(12, c"PMQ_STATUS_CLOSED", c"handle is closed", Some(Closed)),
        row(
            13,
            c"PMQ_STATUS_OUT_OF_MEMORY",
            c"out of memory",
            Some(OutOfMemory),
        ),
        row(
            14,
            c"PMQ_STATUS_OS_ERROR",
            c"operating system error",
            Some(Os),
        ),
        row(
            15,
            c"PMQ_STATUS_PANIC",
            c"internal error (panic caught)",
            None,
        ),
        row(
            16,
            c"PMQ_STATUS_NOT_SUPPORTED",
            c"not supported on this system",
            Some(NotSupported),
        ),
        row(
            17,
            c"PMQ_STATUS_CORRUPTED",
            c"queue state is corrupted or from an incompatible build",
            Some(Corrupted),
        ),
    ]
};

/// The code of a panic caught at a language boundary (a bug in pmq).
pub const STATUS_PANIC: i32 = 15;

// Each row sits at its own number, and a kind's discriminant is its row.
const _: () = {
    let mut i = 0;
    while i < STATUSES.len() {
        assert!(STATUSES[i].code == i as i32);
        if let Some(k) = STATUSES[i].kind {
            assert!(k as i32 == i as i32);
        }
        i += 1;
    }
    assert!(STATUSES[STATUS_PANIC as usize].kind.is_none());
};

/// The status with this number, if this version defines it.
pub fn status(code: i32) -> Option<&'static StatusInfo> {
    usize::try_from(code).ok().and_then(|i| STATUSES.get(i))
}

impl ErrorKind {
    /// The status code of this kind (the C ABI's `pmq_status` value).
    pub const fn code(self) -> i32 {
        self as i32
    }

    /// The kind with this status code (`None` for success, a caught panic
    /// and values this version does not define).
    pub fn from_code(code: i32) -> Option<ErrorKind> {
        status(code).and_then(|s| s.kind)
    }

    /// This kind's row of [`STATUSES`].
    pub fn status(self) -> &'static StatusInfo {
        &STATUSES[self as usize]
    }

    /// A short, stable description of the kind (the status's text).
    pub fn as_str(self) -> &'static str {
        self.status().text_str()
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
    fn every_kind_round_trips_through_its_status_code() {
        let kinds: Vec<ErrorKind> = STATUSES.iter().filter_map(|s| s.kind).collect();
        assert_eq!(
            kinds.len(),
            STATUSES.len() - 2,
            "all but OK and PANIC are kinds"
        );
        for k in kinds {
            assert_eq!(ErrorKind::from_code(k.code()), Some(k));
            assert_eq!(k.status().code, k.code());
            assert!(k.status().name_str().starts_with("PMQ_STATUS_"));
            assert!(!k.as_str().is_empty());
            assert_eq!(k.status().is_busy(), k.is_busy());
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(STATUS_PANIC), None);
        assert_eq!(ErrorKind::from_code(STATUSES.len() as i32), None);
        assert_eq!(ErrorKind::from_code(-1), None);
    }
}
