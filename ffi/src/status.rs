//! The status codes of the C ABI: the one list of `PMQ_STATUS_*` values,
//! names and texts, and the functions that read it.

use std::ffi::{c_char, c_int, CStr};

use pmq::ErrorKind;

use super::ffi_boundary;

/// Status code returned by every fallible pmq function. 0 is success.
///
/// Values are never renumbered; new ones are only appended. Functions that
/// take a status take it as a plain `int`, so an unknown value from a newer
/// library is handled, not undefined.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum pmq_status {
    /// Success.
    Ok = 0,
    /// A "try once" call (timeout 0, or a non-blocking handle) could not
    /// complete now: the queue was full (send) or empty (receive).
    /// The reference's BusyError.
    WouldBlock = 1,
    /// A bounded wait ran out. The reference's BusyError.
    TimedOut = 2,
    /// Held by someone else: e.g. another process holds the queue's
    /// notification registration. The reference's BusyError.
    Busy = 3,
    /// The queue already exists and O_EXCL was given. The reference's ExistentialError.
    Exists = 4,
    /// The queue does not exist. The reference's ExistentialError.
    NotFound = 5,
    /// Permission denied (queue mode, or the handle's read/write access).
    /// The reference's PermissionsError.
    Permission = 6,
    /// A signal interrupted a wait and its handler returned; nothing was
    /// transferred. The reference's SignalError.
    Interrupted = 7,
    /// An argument is invalid: NULL pointer, bad name, flags, priority,
    /// timeout, size, enum value. The reference's ValueError.
    InvalidArgument = 8,
    /// The message is larger than the queue's max_message_size.
    MessageTooLarge = 9,
    /// The caller's buffer is too small; the needed size is reported.
    BufferTooSmall = 10,
    /// A system limit was hit (msg_max, msgsize_max, queues_max,
    /// RLIMIT_MSGQUEUE, descriptors); the detail names it and how to raise it.
    SystemLimit = 11,
    /// The handle was closed with pmq_queue_close().
    Closed = 12,
    /// Out of memory.
    OutOfMemory = 13,
    /// Another operating-system error; the detail carries its text.
    OsError = 14,
    /// A bug inside pmq panicked; it was caught at the boundary.
    Panic = 15,
    /// Not supported on this system (no POSIX message queues), or by the
    /// queue's backend.
    NotSupported = 16,
    /// A shared-memory queue's file is corrupted, or was made by a pmq build
    /// with another layout; the detail says which, and how to recover.
    ///
    /// The damaged-file contract (PMQ_BACKEND_SHM): whatever bytes the
    /// queue's file holds, and whatever another process does to it while
    /// it is open (overwrites any byte, truncates it, punches holes in it),
    /// a call returns a status - PMQ_STATUS_CORRUPTED, with a detail that
    /// names the field and its value, or the cause - never a signal, a
    /// crash, PMQ_STATUS_PANIC or output on stderr. pmq range-checks every
    /// value it reads from the file (slot indexes, list links, priorities,
    /// bitmap words, counts, lengths, opener records) before it uses it, so
    /// it never reads or writes outside the file or outside the field it
    /// means to, and never returns a message longer than max_message_size
    /// or a priority above 32767. A handle whose file shrank under it (or
    /// met a page that could not be allocated) returns PMQ_STATUS_CORRUPTED
    /// from then on: unlink the queue and create it again (a thread already
    /// asleep in a wait when the file shrank ends within 2 s of
    /// pmq_queue_close(), not at once). A repair (after
    /// a process died holding the lock) that meets such a page rebuilds
    /// nothing and leaves the queue's lock unrecoverable, so every opener
    /// is told instead of seeing an empty queue. An open of a file with
    /// unallocated pages (a sparse copy, pages punched out) allocates them,
    /// or refuses with PMQ_STATUS_SYSTEM_LIMIT when /dev/shm has no room.
    ///
    /// SIGBUS: a page of a mapped file that is gone (truncated) or cannot
    /// be allocated (a full tmpfs) raises SIGBUS. pmq installs a SIGBUS
    /// handler the first time a process maps a shared-memory queue; a fault
    /// inside a pmq mapping becomes PMQ_STATUS_CORRUPTED (the mapping reads
    /// zeros from then on, and its address range stays reserved after the
    /// handle is freed), and every other SIGBUS goes to the handler that
    /// was installed before pmq's, or takes the default action (the process
    /// ends) as without pmq. A program that installs its own SIGBUS handler
    /// after opening a shared-memory queue must pass the faults it does not
    /// own to the previous handler (the one sigaction() returns), as pmq
    /// does; otherwise a damaged queue file reaches that handler instead.
    ///
    /// Who is trusted: every process the file's mode lets write it (its
    /// owner, plus the group and others the mode given at create lets
    /// write: each handle needs read-write access). Such a process can
    /// always destroy the queue's messages or make calls fail with
    /// PMQ_STATUS_CORRUPTED, PMQ_STATUS_BUSY or time-outs (it can write
    /// any byte, the lock's too); it cannot make pmq read or write memory
    /// outside the queue's file or return an out-of-range message (the
    /// locks of layout version 3 are pmq's own and never follow a word of
    /// the file). A file an older pmq made (layout 2) is refused with this
    /// status, naming its layout. So give a queue a mode that
    /// lets only processes you trust write it (the default, 0600, lets only
    /// its owner's).
    Corrupted = 17,
    /// A lease given to pmq_queue_ack() / pmq_queue_nack() is no longer this
    /// handle's: it was acked or nacked already, its visibility timeout
    /// passed (the message went back to the queue and may have been
    /// delivered again), or it was never this handle's. The detail says
    /// which. Nothing was changed.
    LeaseLost = 18,
}

/// The highest status value defined by this version.
pub(crate) const STATUS_LAST: i32 = pmq_status::LeaseLost as i32;

/// One row of [`STATUSES`]: a status, its C name and what it means.
pub(crate) struct Row {
    pub(crate) status: pmq_status,
    pub(crate) name: &'static CStr,
    pub(crate) text: &'static CStr,
}

const fn row(status: pmq_status, name: &'static CStr, text: &'static CStr) -> Row {
    Row { status, name, text }
}

/// Every status, indexed by its value: the one list of names and texts
/// (pmq_status_name(), pmq_status_str(); every binding reads them from
/// there). The enum above is what cbindgen writes into pmq.h;
/// tests/header.rs checks the header's names against this list.
pub(crate) const STATUSES: [Row; 19] = {
    use pmq_status::*;
    [
        row(Ok, c"PMQ_STATUS_OK", c"success"),
        row(
            WouldBlock,
            c"PMQ_STATUS_WOULD_BLOCK",
            c"operation would block (queue full or empty, and no wait was allowed)",
        ),
        row(TimedOut, c"PMQ_STATUS_TIMED_OUT", c"timed out"),
        row(
            Busy,
            c"PMQ_STATUS_BUSY",
            c"resource busy (held by another process)",
        ),
        row(Exists, c"PMQ_STATUS_EXISTS", c"queue already exists"),
        row(NotFound, c"PMQ_STATUS_NOT_FOUND", c"queue not found"),
        row(Permission, c"PMQ_STATUS_PERMISSION", c"permission denied"),
        row(
            Interrupted,
            c"PMQ_STATUS_INTERRUPTED",
            c"interrupted by a signal",
        ),
        row(
            InvalidArgument,
            c"PMQ_STATUS_INVALID_ARGUMENT",
            c"invalid argument",
        ),
        row(
            MessageTooLarge,
            c"PMQ_STATUS_MESSAGE_TOO_LARGE",
            c"message too large for the queue",
        ),
        row(
            BufferTooSmall,
            c"PMQ_STATUS_BUFFER_TOO_SMALL",
            c"buffer too small",
        ),
        row(
            SystemLimit,
            c"PMQ_STATUS_SYSTEM_LIMIT",
            c"system limit reached",
        ),
        row(Closed, c"PMQ_STATUS_CLOSED", c"handle is closed"),
        row(OutOfMemory, c"PMQ_STATUS_OUT_OF_MEMORY", c"out of memory"),
        row(OsError, c"PMQ_STATUS_OS_ERROR", c"operating system error"),
        row(Panic, c"PMQ_STATUS_PANIC", c"internal error (panic caught)"),
        row(
            NotSupported,
            c"PMQ_STATUS_NOT_SUPPORTED",
            c"not supported on this system",
        ),
        row(
            Corrupted,
            c"PMQ_STATUS_CORRUPTED",
            c"queue state is corrupted or from an incompatible build",
        ),
        row(
            LeaseLost,
            c"PMQ_STATUS_LEASE_LOST",
            c"lease no longer held by this handle",
        ),
    ]
};

// Each row sits at its own value, the last one is STATUS_LAST, and every
// core error kind maps to the status of its own code (the core's
// discriminant, ErrorKind::code).
const _: () = {
    let mut i = 0;
    while i < STATUSES.len() {
        assert!(STATUSES[i].status as i32 == i as i32);
        i += 1;
    }
    assert!(STATUS_LAST as usize == STATUSES.len() - 1);
    use ErrorKind::*;
    let kinds = [
        WouldBlock,
        TimedOut,
        Busy,
        Exists,
        NotFound,
        Permission,
        Interrupted,
        InvalidArgument,
        MessageTooLarge,
        BufferTooSmall,
        SystemLimit,
        Closed,
        OutOfMemory,
        Os,
        NotSupported,
        Corrupted,
        LeaseLost,
    ];
    let mut k = 0;
    while k < kinds.len() {
        assert!(pmq_status::from_kind(kinds[k]) as i32 == kinds[k].code());
        k += 1;
    }
};

impl pmq_status {
    /// The status of a core error kind. An exhaustive match: a new kind in
    /// the core does not compile here until it has its status.
    #[inline]
    pub(crate) const fn from_kind(kind: ErrorKind) -> pmq_status {
        match kind {
            ErrorKind::WouldBlock => pmq_status::WouldBlock,
            ErrorKind::TimedOut => pmq_status::TimedOut,
            ErrorKind::Busy => pmq_status::Busy,
            ErrorKind::Exists => pmq_status::Exists,
            ErrorKind::NotFound => pmq_status::NotFound,
            ErrorKind::Permission => pmq_status::Permission,
            ErrorKind::Interrupted => pmq_status::Interrupted,
            ErrorKind::InvalidArgument => pmq_status::InvalidArgument,
            ErrorKind::MessageTooLarge => pmq_status::MessageTooLarge,
            ErrorKind::BufferTooSmall => pmq_status::BufferTooSmall,
            ErrorKind::SystemLimit => pmq_status::SystemLimit,
            ErrorKind::Closed => pmq_status::Closed,
            ErrorKind::OutOfMemory => pmq_status::OutOfMemory,
            ErrorKind::Os => pmq_status::OsError,
            ErrorKind::NotSupported => pmq_status::NotSupported,
            ErrorKind::Corrupted => pmq_status::Corrupted,
            ErrorKind::LeaseLost => pmq_status::LeaseLost,
        }
    }

    /// This version's row of a status value, if it defines one.
    pub(crate) fn row(v: c_int) -> Option<&'static Row> {
        usize::try_from(v).ok().and_then(|i| STATUSES.get(i))
    }

    pub(crate) fn from_i32(v: i32) -> Option<pmq_status> {
        if (0..=STATUS_LAST).contains(&v) {
            // SAFETY: pmq_status is repr(i32) and has a variant for every
            // value 0..=STATUS_LAST (checked at compile time above).
            Some(unsafe { std::mem::transmute::<i32, pmq_status>(v) })
        } else {
            None
        }
    }
}

/// Static text for a status code: what it means. Takes a plain int, so any
/// value is safe; unknown values give "unknown status".
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_str(status: c_int) -> *const c_char {
    ffi_boundary!(c"unknown status".as_ptr(), {
        pmq_status::row(status)
            .map_or(c"unknown status", |r| r.text)
            .as_ptr()
    })
}

/// The status code's name, e.g. "PMQ_STATUS_TIMED_OUT"; "PMQ_STATUS_UNKNOWN"
/// for values this version does not define.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_name(status: c_int) -> *const c_char {
    ffi_boundary!(c"PMQ_STATUS_UNKNOWN".as_ptr(), {
        pmq_status::row(status)
            .map_or(c"PMQ_STATUS_UNKNOWN", |r| r.name)
            .as_ptr()
    })
}

/// True for the statuses the reference reports as BusyError:
/// PMQ_STATUS_WOULD_BLOCK, PMQ_STATUS_TIMED_OUT and PMQ_STATUS_BUSY.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_is_busy(status: c_int) -> bool {
    ffi_boundary!(false, {
        matches!(
            pmq_status::from_i32(status),
            Some(pmq_status::WouldBlock | pmq_status::TimedOut | pmq_status::Busy)
        )
    })
}

/// The highest status value this library version defines.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_last() -> c_int {
    STATUS_LAST
}

#[cfg(test)]
mod tests {
    use super::{pmq_status, STATUSES};

    /// The status names in the committed header (cbindgen writes them from
    /// the enum's variant names) are this list's, value for value.
    #[test]
    fn header_status_names_are_the_list() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/pmq.h");
        let header = std::fs::read_to_string(path).unwrap();
        let mut seen = 0;
        for line in header.lines() {
            let line = line.trim();
            let Some(rest) = line.strip_prefix("PMQ_STATUS_") else {
                continue;
            };
            let Some((name, value)) = rest.split_once(" = ") else {
                continue;
            };
            let value: i32 = value.trim_end_matches(',').parse().unwrap();
            let row = pmq_status::row(value).unwrap_or_else(|| panic!("{name} = {value}"));
            assert_eq!(row.name.to_str().unwrap(), format!("PMQ_STATUS_{name}"));
            seen += 1;
        }
        assert_eq!(seen, STATUSES.len(), "every status is in the header");
    }
}
