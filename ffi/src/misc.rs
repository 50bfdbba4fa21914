//! C ABI of everything that is not a handle: constants, limits, versions,
//! status texts and the last-error detail.

use std::ffi::{c_char, c_int};

use super::{ffi_boundary, out_ptr, pmq_status, with_last_error, STATUS_LAST};
use pmq_core::{ErrorKind, Limits};

/// pmq_options.flags: create the queue if it does not exist.
pub const PMQ_O_CREAT: c_int = 0o100;
/// pmq_options.flags: with PMQ_O_CREAT, fail if the queue exists.
pub const PMQ_O_EXCL: c_int = 0o200;
/// pmq_options.flags: PMQ_O_CREAT | PMQ_O_EXCL, create a new queue.
pub const PMQ_O_CREX: c_int = PMQ_O_CREAT | PMQ_O_EXCL;
/// pmq_options.flags: open the handle non-blocking, as if `block` were
/// false (the OS's O_NONBLOCK, as mq_open and posix_ipc accept it).
pub const PMQ_O_NONBLOCK: c_int = 0o4000;
/// Highest message priority on Linux (sysconf(_SC_MQ_PRIO_MAX) - 1).
pub const PMQ_PRIORITY_MAX: u32 = 32767;
/// The reference's QUEUE_PRIORITY_MAX (same as PMQ_PRIORITY_MAX).
pub const PMQ_QUEUE_PRIORITY_MAX: u32 = PMQ_PRIORITY_MAX;
/// Default permission bits of a new queue.
pub const PMQ_DEFAULT_MODE: u32 = 0o600;
/// Longest queue name after the leading slash, in bytes, on the kernel
/// backend (NAME_MAX). The shared-memory backend's is PMQ_SHM_NAME_MAX.
pub const PMQ_NAME_MAX: usize = 255;
/// Longest queue name after the leading slash, in bytes, on the
/// shared-memory backend (PMQ_BACKEND_SHM): 251, so that the queue's file
/// `pmq.<name>` fits the file system's 255-byte names. A longer name is
/// refused there with PMQ_STATUS_INVALID_ARGUMENT and a detail naming this
/// limit. Names of at most 251 bytes work on both backends.
pub const PMQ_SHM_NAME_MAX: usize = 251;
/// pmq_limits: a resource limit that is unlimited (RLIM_INFINITY).
pub const PMQ_RLIMIT_INFINITY: u64 = u64::MAX;

const _: () = {
    assert!(PMQ_O_CREAT == libc::O_CREAT);
    assert!(PMQ_O_EXCL == libc::O_EXCL);
    assert!(PMQ_O_NONBLOCK == pmq_core::O_NONBLOCK);
    assert!(PMQ_PRIORITY_MAX == pmq_core::PRIORITY_MAX);
    assert!(PMQ_NAME_MAX == pmq_core::NAME_MAX);
    assert!(PMQ_SHM_NAME_MAX == pmq_core::SHM_NAME_MAX);
};

/// The system's message-queue limits, read when pmq_limits_get() is called.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pmq_limits {
    /// fs.mqueue.msg_max: most messages per queue (sysctl -w fs.mqueue.msg_max=N).
    pub msg_max: i64,
    /// fs.mqueue.msgsize_max: largest message (sysctl -w fs.mqueue.msgsize_max=N).
    pub msgsize_max: i64,
    /// fs.mqueue.queues_max: queues system-wide (sysctl -w fs.mqueue.queues_max=N).
    pub queues_max: i64,
    /// fs.mqueue.msg_default: the kernel's capacity when none is given.
    pub msg_default: i64,
    /// fs.mqueue.msgsize_default: the kernel's message size when none is given.
    pub msgsize_default: i64,
    /// RLIMIT_MSGQUEUE soft limit in bytes per user (`ulimit -q`), or PMQ_RLIMIT_INFINITY.
    pub rlimit_soft: u64,
    /// RLIMIT_MSGQUEUE hard limit in bytes, or PMQ_RLIMIT_INFINITY.
    pub rlimit_hard: u64,
    /// Highest priority (sysconf(_SC_MQ_PRIO_MAX) - 1).
    pub priority_max: u32,
}

/// Whether this system has POSIX message queues (the reference's
/// MESSAGE_QUEUES_SUPPORTED). True on Linux.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_message_queues_supported() -> bool {
    ffi_boundary!(false, { pmq_core::message_queues_supported() })
}

/// The reference's QUEUE_MESSAGES_MAX_DEFAULT: the system's msg_max, read
/// now (a changed sysctl is seen at once). The default capacity of new queues.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_queue_messages_max_default() -> i64 {
    ffi_boundary!(pmq_core::FALLBACK_MSG_MAX, {
        pmq_core::queue_messages_max_default()
    })
}

/// The reference's QUEUE_MESSAGE_SIZE_MAX_DEFAULT: the system's msgsize_max,
/// read now. The default message size of new queues.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_queue_message_size_max_default() -> i64 {
    ffi_boundary!(pmq_core::FALLBACK_MSGSIZE_MAX, {
        pmq_core::queue_message_size_max_default()
    })
}

/// The highest priority this system accepts (the reference's
/// QUEUE_PRIORITY_MAX), from sysconf; PMQ_PRIORITY_MAX on Linux.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_priority_max() -> u32 {
    ffi_boundary!(PMQ_PRIORITY_MAX, { pmq_core::priority_max() })
}

/// Reads every message-queue limit now into `*out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_limits_get(out: *mut pmq_limits) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        let l = Limits::read();
        // SAFETY: non-NULL and writable per the caller.
        unsafe {
            out.write(pmq_limits {
                msg_max: l.msg_max,
                msgsize_max: l.msgsize_max,
                queues_max: l.queues_max,
                msg_default: l.msg_default,
                msgsize_default: l.msgsize_default,
                rlimit_soft: l.rlimit_soft,
                rlimit_hard: l.rlimit_hard,
                priority_max: l.priority_max,
            })
        };
        pmq_status::Ok
    })
}

/// Bytes a queue of this shape is charged against the user's
/// RLIMIT_MSGQUEUE (payload plus the kernel's per-message overhead);
/// 0 for non-positive arguments.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_queue_cost(max_messages: i64, max_message_size: i64) -> u64 {
    ffi_boundary!(0, { pmq_core::queue_cost(max_messages, max_message_size) })
}

/// The library's version, e.g. "0.1.0" (static storage).
#[unsafe(no_mangle)]
pub extern "C" fn pmq_version() -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// The library's version as MAJOR * 10000 + MINOR * 100 + PATCH, the same
/// encoding as PMQ_VERSION_NUMBER (compare them to detect a header/library
/// mismatch).
#[unsafe(no_mangle)]
pub extern "C" fn pmq_version_number() -> u32 {
    ffi_boundary!(0, { pmq_core::version_number() })
}

/// Static text for a status code: what it means. Takes a plain int, so any
/// value is safe; unknown values give "unknown status".
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_str(status: c_int) -> *const c_char {
    ffi_boundary!(c"unknown status".as_ptr(), {
        pmq_core::status(status)
            .map_or(c"unknown status", |s| s.text)
            .as_ptr()
    })
}

/// The status code's name, e.g. "PMQ_STATUS_TIMED_OUT"; "PMQ_STATUS_UNKNOWN"
/// for values this version does not define.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_status_name(status: c_int) -> *const c_char {
    ffi_boundary!(c"PMQ_STATUS_UNKNOWN".as_ptr(), {
        pmq_core::status(status)
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

/// Copies the detail of the calling thread's last failure (what was wrong
/// and how to fix it; "" if nothing failed yet) into `buf`, NUL-terminated.
/// This is the one call every binding uses to read a detail.
///
/// - `*needed` (`needed` may be NULL) receives the detail's full length in
///   bytes, without the NUL: a buffer of `*needed + 1` bytes always holds it.
/// - Returns PMQ_STATUS_OK when the whole detail fit, or
///   PMQ_STATUS_BUFFER_TOO_SMALL when it was cut to fit `len - 1` bytes
///   (at a UTF-8 character boundary; still NUL-terminated, nothing is
///   written when `len` is 0). `buf` NULL with `len` 0 asks the length only
///   (PMQ_STATUS_BUFFER_TOO_SMALL, `*needed` set).
/// - Returns PMQ_STATUS_INVALID_ARGUMENT for `buf` NULL with a non-zero
///   `len`, or a `len` above PTRDIFF_MAX, and writes nothing.
///
/// It never changes the detail, its own failures included: call it again
/// with a larger buffer to read the same detail. Successful pmq calls do not
/// clear the detail (like errno): read it right after a call that failed,
/// on the same thread (Go: in the same C call, as goroutines move between
/// threads between two cgo calls).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_error_message(
    buf: *mut c_char,
    len: usize,
    needed: *mut usize,
) -> pmq_status {
    ffi_boundary!({
        if (buf.is_null() && len != 0) || len > isize::MAX as usize {
            return pmq_status::InvalidArgument;
        }
        let fill = |text: &[u8]| {
            if !needed.is_null() {
                // SAFETY: non-NULL and writable per the caller.
                unsafe { needed.write(text.len()) };
            }
            if len == 0 {
                return pmq_status::BufferTooSmall;
            }
            let mut n = text.len().min(len - 1);
            // Cut at a character boundary (a UTF-8 continuation byte is 10xxxxxx).
            while n < text.len() && n > 0 && text[n] & 0xC0 == 0x80 {
                n -= 1;
            }
            // SAFETY: `buf` is non-NULL (len > 0) and valid for `len` bytes
            // per the caller; n + 1 <= len bytes are written.
            unsafe {
                std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
                buf.add(n).write(0);
            }
            if n == text.len() {
                pmq_status::Ok
            } else {
                pmq_status::BufferTooSmall
            }
        };
        // No detail store (this thread is ending): nothing failed on it.
        with_last_error(|_, _, _, text| fill(text)).unwrap_or_else(|| fill(b""))
    })
}

/// Superseded by pmq_error_message() (kept for the ABI): the detail of the
/// last failure on the calling thread: what was wrong and
/// how to fix it. Never NULL; "" if nothing failed yet. The text stays valid
/// until the next failing pmq call on this thread. Successful calls do not
/// clear it (like errno): read it only right after a call that failed.
///
/// Go: goroutines move between OS threads between two cgo calls, so read the
/// detail in the same C call as the failing function (a C shim in the cgo
/// preamble that calls the function, then pmq_last_error_copy()).
#[unsafe(no_mangle)]
pub extern "C" fn pmq_last_error() -> *const c_char {
    ffi_boundary!(c"".as_ptr(), { super::last_error_ptr() })
}

/// Superseded by pmq_error_message() (kept for the ABI).
/// Copies the last failure's detail into `buf` (NUL-terminated, truncated
/// to `buf_len - 1` bytes if needed) and returns the full length without the
/// NUL, like snprintf. `buf` may be NULL when `buf_len` is 0 to ask the length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_last_error_copy(buf: *mut c_char, buf_len: usize) -> usize {
    ffi_boundary!(0, {
        with_last_error(|_, _, _, text| {
            if !buf.is_null() && buf_len > 0 && buf_len <= isize::MAX as usize {
                let n = text.len().min(buf_len - 1);
                // SAFETY: `buf` is non-NULL and valid for `buf_len` bytes per
                // the caller; we write n + 1 <= buf_len bytes.
                unsafe {
                    std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
                    buf.add(n).write(0);
                }
            }
            text.len()
        })
        .unwrap_or(0)
    })
}

/// The status of the last failure on this thread (PMQ_STATUS_OK if none yet).
#[unsafe(no_mangle)]
pub extern "C" fn pmq_last_error_status() -> c_int {
    ffi_boundary!(0, { with_last_error(|s, _, _, _| s).unwrap_or(0) })
}

/// The OS error number (errno) behind the last failure on this thread, or 0
/// if pmq detected the problem itself.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_last_error_errno() -> c_int {
    ffi_boundary!(0, { with_last_error(|_, e, _, _| e).unwrap_or(0) })
}

/// For PMQ_STATUS_BUFFER_TOO_SMALL: the buffer size the failed call needed;
/// 0 after other failures.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_last_error_needed() -> usize {
    ffi_boundary!(0, { with_last_error(|_, _, n, _| n).unwrap_or(0) })
}

/// Superseded by pmq_error_message() (kept for the ABI).
/// Copies the last failure's status and detail in one call (for bindings
/// whose threads may change between calls, such as Go: call this from the
/// same C function that made the failing call). Returns the status;
/// `buf`/`buf_len` as in pmq_last_error_copy(), `out_len` (may be NULL)
/// receives the detail's full length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_last_error_take(
    buf: *mut c_char,
    buf_len: usize,
    out_len: *mut usize,
) -> c_int {
    ffi_boundary!(pmq_status::Panic as c_int, {
        // SAFETY: forwarded caller guarantees on `buf`.
        let n = unsafe { pmq_last_error_copy(buf, buf_len) };
        if !out_len.is_null() {
            // SAFETY: non-NULL and writable per the caller.
            unsafe { out_len.write(n) };
        }
        pmq_last_error_status()
    })
}
