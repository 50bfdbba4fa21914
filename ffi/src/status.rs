//! The status codes of the C ABI: the one list of `PMQ_STATUS_*` values,
//! names and texts, and the functions that read it.

use std::ffi::{c_char, c_int};

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
    /// outside the queue's file or return an out-of-range message, with one
    /// exception until layout version 3 replaces the lock: the queue's lock
    /// is a glibc robust process-shared mutex, whose robust-list words
    /// (bytes 152-167 of the file in layout version 2) hold pointers that
    /// glibc follows when it unlocks; a process that writes them can crash
    /// (SIGSEGV) the processes using the queue. So give a queue a mode that
    /// lets only processes you trust write it (the default, 0600, lets only
    /// its owner's).
    Corrupted = 17,
}

/// The highest status value defined by this version.
pub(crate) const STATUS_LAST: i32 = pmq_status::Corrupted as i32;

// The enum above is what cbindgen writes into pmq.h; its names and values
// are the core's status table (pmq::STATUSES), which every other
// status text of the boundary is read from. tests/header.rs checks that the
// header's names match the table; here, that every value is in place.
const _: () = {
    use pmq_status::*;
    let all = [
        Ok,
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
        OsError,
        Panic,
        NotSupported,
        Corrupted,
    ];
    assert!(all.len() == pmq::STATUSES.len());
    let mut i = 0;
    while i < all.len() {
        assert!(all[i] as i32 == i as i32);
        i += 1;
    }
    assert!(Panic as i32 == pmq::STATUS_PANIC);
};

impl pmq_status {
    #[inline]
    pub(crate) fn from_kind(kind: ErrorKind) -> pmq_status {
        // Every kind's code is a value of the enum (checked above and by the
        // core's table); an unknown one would be a bug: report it as such.
        pmq_status::from_i32(kind.code()).unwrap_or(pmq_status::Panic)
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
        pmq::status(status)
            .map_or(c"unknown status", |s| s.text)
            .as_ptr()
    })
}

/// The status code's name, e.g. "PMQ_STATUS_TIMED_OUT"; "PMQ_STATUS_UNKNOWN"
/// for values this version does not define.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_name(status: c_int) -> *const c_char {
    ffi_boundary!(c"PMQ_STATUS_UNKNOWN".as_ptr(), {
        pmq::status(status)
            .map_or(c"PMQ_STATUS_UNKNOWN", |s| s.name)
            .as_ptr()
    })
}

/// True for the statuses the reference reports as BusyError:
/// PMQ_STATUS_WOULD_BLOCK, PMQ_STATUS_TIMED_OUT and PMQ_STATUS_BUSY.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_is_busy(status: c_int) -> bool {
    ffi_boundary!(false, {
        ErrorKind::from_code(status).is_some_and(ErrorKind::is_busy)
    })
}

/// The highest status value this library version defines.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_last() -> c_int {
    STATUS_LAST
}
