//! The C ABI of pmq (libpmq.so, libpmq.a; include/pmq.h is generated from
//! this crate by cbindgen): a thin boundary with no logic of its own. It
//! converts arguments, calls the safe core (the `pmq` crate), and maps
//! results to status codes.
//!
//! Plumbing lives here (status codes, the panic boundary, the thread-local
//! error detail, pointer helpers); each handle type has its own file.

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // Safety rules are in each function's C docs.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, CStr};

use pmq_core::{Error, ErrorKind};

#[cfg(test)]
mod alloc_tests;
pub mod misc;
pub mod notify;
pub mod queue;

#[cfg(test)]
mod tests {
    #[test]
    fn soname_follows_the_version() {
        let major: u32 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
        let minor = env!("CARGO_PKG_VERSION_MINOR");
        let expect = if major == 0 {
            format!("libpmq.so.0.{minor}")
        } else {
            format!("libpmq.so.{major}")
        };
        assert_eq!(env!("PMQ_SONAME"), expect);
    }
}

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
// are the core's status table (pmq_core::STATUSES), which every other
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
    assert!(all.len() == pmq_core::STATUSES.len());
    let mut i = 0;
    while i < all.len() {
        assert!(all[i] as i32 == i as i32);
        i += 1;
    }
    assert!(Panic as i32 == pmq_core::STATUS_PANIC);
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

/// The detail of the last failure on this thread.
struct LastError {
    status: i32,
    errno: i32,
    needed: usize,
    /// The detail as the core gave it: a static text on the hot path (would
    /// block, timed out), so recording a failure copies nothing.
    detail: Cow<'static, str>,
    /// The NUL-terminated copy handed to C, made when asked for; its capacity
    /// is reused.
    text: Vec<u8>,
    text_valid: bool,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError {
            status: 0,
            errno: 0,
            needed: 0,
            detail: Cow::Borrowed(""),
            text: Vec::new(),
            text_valid: false,
        })
    };
}

fn store_last_error(status: pmq_status, errno: i32, needed: usize, detail: Cow<'static, str>) {
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut le) = cell.try_borrow_mut() {
            le.status = status as i32;
            le.errno = errno;
            le.needed = needed;
            le.detail = detail;
            le.text_valid = false;
        }
    });
}

/// Records `e` as this thread's last error and returns its status.
pub(crate) fn fail(e: Error) -> pmq_status {
    let status = pmq_status::from_kind(e.kind());
    let (errno, needed) = (e.errno(), e.needed());
    store_last_error(status, errno, needed, e.into_detail());
    status
}

/// Records an invalid-argument failure detected at the boundary.
pub(crate) fn invalid(detail: impl Into<Cow<'static, str>>) -> pmq_status {
    store_last_error(pmq_status::InvalidArgument, 0, 0, detail.into());
    pmq_status::InvalidArgument
}

/// Records a too-small caller array detected at the boundary: `needed`
/// elements were needed (pmq_last_error_needed()).
pub(crate) fn too_small(needed: usize, detail: impl Into<Cow<'static, str>>) -> pmq_status {
    store_last_error(pmq_status::BufferTooSmall, 0, needed, detail.into());
    pmq_status::BufferTooSmall
}

/// Maps a core result to a status, recording the detail on failure.
#[inline]
pub(crate) fn status_of(r: pmq_core::Result<()>) -> pmq_status {
    match r {
        Ok(()) => pmq_status::Ok,
        Err(e) => fail(e),
    }
}

/// Records a caught panic.
pub(crate) fn panicked(payload: Box<dyn std::any::Any + Send>) -> pmq_status {
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic");
    store_last_error(
        pmq_status::Panic,
        0,
        0,
        format!("internal error in pmq (please report it): {msg}").into(),
    );
    pmq_status::Panic
}

/// Runs `$body` (which evaluates to a `pmq_status`) with panics caught and
/// turned into `PMQ_STATUS_PANIC`. Used inside every exported function's body,
/// so that cbindgen sees a literal `extern "C" fn`.
macro_rules! ffi_boundary {
    ($body:block) => {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> $crate::pmq_status {
            $body
        })) {
            Ok(s) => s,
            Err(p) => $crate::panicked(p),
        }
    };
    // For functions returning something other than a status: `$default` on panic.
    ($default:expr, $body:block) => {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(p) => {
                let _ = $crate::panicked(p);
                $default
            }
        }
    };
}
pub(crate) use ffi_boundary;

/// Unwraps a `Result<T, pmq_status>`, returning the status from the
/// enclosing function (or boundary closure) on failure.
macro_rules! try_ffi {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(status) => return status,
        }
    };
}
pub(crate) use try_ffi;

/// Writes a core result's value through a checked out-pointer, or records
/// its error: the "call, then write out or fail" step of a getter.
///
/// # Safety
/// `out` must be non-NULL and valid for writes.
#[inline]
pub(crate) unsafe fn write_out<T>(out: *mut T, r: pmq_core::Result<T>) -> pmq_status {
    match r {
        Ok(v) => {
            // SAFETY: forwarded caller guarantee.
            unsafe { out.write(v) };
            pmq_status::Ok
        }
        Err(e) => fail(e),
    }
}

/// Checks an out-pointer; returns from the enclosing closure on NULL.
macro_rules! out_ptr {
    ($p:ident) => {
        if $p.is_null() {
            return $crate::invalid(concat!(
                "`",
                stringify!($p),
                "` is NULL; pass the address of a variable to receive the result"
            ));
        }
    };
}
pub(crate) use out_ptr;

/// The failure of [`slice_in`] / [`slice_out`]: kept out of line so that the
/// checks on the hot path stay a few instructions.
#[cold]
#[inline(never)]
fn bad_slice(is_null: bool, len: usize, what: &'static str) -> pmq_status {
    if len > isize::MAX as usize {
        invalid(format!(
            "{what} length {len} is larger than any object can be (above PTRDIFF_MAX); pass the \
             real length"
        ))
    } else {
        debug_assert!(is_null);
        invalid(format!(
            "{what} is NULL but its length is {len}; pass a valid pointer, or NULL with length 0"
        ))
    }
}

/// A byte slice from C: `(NULL, 0)` is the empty slice; NULL with a length,
/// or a length above `isize::MAX`, is rejected.
///
/// # Safety
/// If `ptr` is non-NULL it must be valid for reads of `len` bytes for `'a`.
#[inline]
pub(crate) unsafe fn slice_in<'a>(
    ptr: *const u8,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], pmq_status> {
    if len > isize::MAX as usize || (ptr.is_null() && len != 0) {
        return Err(bad_slice(ptr.is_null(), len, what));
    }
    if ptr.is_null() {
        return Ok(&[]);
    }
    // SAFETY: non-NULL, length checked against isize::MAX, and the caller
    // guarantees validity for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A writable byte slice from C, with the same rules as [`slice_in`].
///
/// # Safety
/// If `ptr` is non-NULL it must be valid for writes of `len` bytes for `'a`
/// and not aliased during that time.
#[inline]
pub(crate) unsafe fn slice_out<'a>(
    ptr: *mut u8,
    len: usize,
    what: &'static str,
) -> Result<&'a mut [u8], pmq_status> {
    if len > isize::MAX as usize || (ptr.is_null() && len != 0) {
        return Err(bad_slice(ptr.is_null(), len, what));
    }
    if ptr.is_null() {
        return Ok(&mut []);
    }
    // SAFETY: non-NULL, length checked, caller guarantees validity and exclusivity.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// A queue name from C: non-NULL, NUL-terminated and UTF-8 (its validity
/// for the backend is checked by the core call it is passed to).
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn name_in<'a>(ptr: *const c_char) -> Result<&'a str, pmq_status> {
    if ptr.is_null() {
        return Err(invalid(
            "queue name is NULL; pass a name such as \"/my_queue\"",
        ));
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    // UTF-8 only here: open and unlink validate the name for their backend
    // (whose limit a refusal then names).
    pmq_core::name_from_bytes(bytes).map_err(fail)
}

/// Writes `text` plus a NUL into a C buffer. On a too-small buffer writes
/// nothing but the needed size (including the NUL) and fails.
///
/// # Safety
/// `buf` must be NULL or valid for writes of `len` bytes; `needed` NULL or valid.
pub(crate) unsafe fn text_out(
    text: &str,
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> pmq_status {
    let need = text.len() + 1;
    // SAFETY: forwarded caller guarantee. Checked before anything is
    // written: out-parameters are set only on success or BUFFER_TOO_SMALL.
    let out = match unsafe { slice_out(buf.cast(), len, "`buf`") } {
        Ok(s) => s,
        Err(st) => return st,
    };
    if !needed.is_null() {
        // SAFETY: checked non-NULL; the caller guarantees it is writable.
        unsafe { *needed = need };
    }
    if out.len() < need {
        store_last_error(
            pmq_status::BufferTooSmall,
            0,
            need,
            format!(
                "buffer of {} bytes is too small for the text; pass at least {need} bytes",
                out.len()
            )
            .into(),
        );
        return pmq_status::BufferTooSmall;
    }
    out[..text.len()].copy_from_slice(text.as_bytes());
    out[text.len()] = 0;
    pmq_status::Ok
}

/// Reads a C `bool` field byte-wise, so that a garbage byte (an options struct
/// filled by hand) is read as "true if non-zero" instead of being undefined
/// behaviour in Rust.
///
/// # Safety
/// `p` must point to one readable byte.
pub(crate) unsafe fn read_bool(p: *const bool) -> bool {
    // SAFETY: any initialised byte is a valid u8.
    unsafe { p.cast::<u8>().read() != 0 }
}

/// The text of this thread's last failure (see `pmq_last_error`), made
/// NUL-terminated on first request.
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut le) => {
                if !le.text_valid {
                    let LastError { detail, text, .. } = &mut *le;
                    text.clear();
                    text.extend_from_slice(detail.as_bytes());
                    text.push(0);
                    le.text_valid = true;
                }
                le.text.as_ptr().cast()
            }
            Err(_) => c"".as_ptr(),
        })
        .unwrap_or(c"".as_ptr())
}

pub(crate) fn with_last_error<R>(f: impl FnOnce(i32, i32, usize, &[u8]) -> R) -> Option<R> {
    LAST_ERROR
        .try_with(|cell| {
            cell.try_borrow()
                .ok()
                .map(|le| f(le.status, le.errno, le.needed, le.detail.as_bytes()))
        })
        .ok()
        .flatten()
}
