//! The C ABI: a thin boundary with no logic of its own. It converts
//! arguments, calls the safe core, and maps results to status codes.
//!
//! Plumbing lives here (status codes, the panic boundary, the thread-local
//! error detail, pointer helpers); each handle type has its own file.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // Safety rules are in each function's C docs.

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, CStr};

use crate::error::{Error, ErrorKind};

pub mod misc;
pub mod notify;
pub mod queue;

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
    /// Not supported on this system (no POSIX message queues).
    NotSupported = 16,
}

/// The highest status value defined by this version.
pub(crate) const STATUS_LAST: i32 = pmq_status::NotSupported as i32;

impl pmq_status {
    pub(crate) fn from_kind(kind: ErrorKind) -> pmq_status {
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
        }
    }

    pub(crate) fn from_i32(v: i32) -> Option<pmq_status> {
        use pmq_status::*;
        Some(match v {
            0 => Ok,
            1 => WouldBlock,
            2 => TimedOut,
            3 => Busy,
            4 => Exists,
            5 => NotFound,
            6 => Permission,
            7 => Interrupted,
            8 => InvalidArgument,
            9 => MessageTooLarge,
            10 => BufferTooSmall,
            11 => SystemLimit,
            12 => Closed,
            13 => OutOfMemory,
            14 => OsError,
            15 => Panic,
            16 => NotSupported,
            _ => return None,
        })
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

/// Maps a core result to a status, recording the detail on failure.
#[inline]
pub(crate) fn status_of(r: crate::Result<()>) -> pmq_status {
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
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            || -> $crate::ffi::pmq_status { $body },
        )) {
            Ok(s) => s,
            Err(p) => $crate::ffi::panicked(p),
        }
    };
    // For functions returning something other than a status: `$default` on panic.
    ($default:expr, $body:block) => {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(p) => {
                let _ = $crate::ffi::panicked(p);
                $default
            }
        }
    };
}
pub(crate) use ffi_boundary;

/// Checks an out-pointer; returns from the enclosing closure on NULL.
macro_rules! out_ptr {
    ($p:ident) => {
        if $p.is_null() {
            return $crate::ffi::invalid(concat!(
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

/// A queue name from C: non-NULL, NUL-terminated, UTF-8, and a valid name.
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
    crate::name::validate_name_bytes(bytes).map_err(fail)
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
