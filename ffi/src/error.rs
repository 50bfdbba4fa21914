//! The failure detail of the calling thread: recorded by every failing
//! call, read by pmq_error_message() (and the superseded pmq_last_error*).

use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, c_int};

use pmq::Error;

use super::{ffi_boundary, pmq_status};

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

pub(crate) fn store_last_error(
    status: pmq_status,
    errno: i32,
    needed: usize,
    detail: Cow<'static, str>,
) {
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
pub(crate) fn status_of(r: pmq::Result<()>) -> pmq_status {
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

/// The text of this thread's last failure (see `pmq_last_error`), made
/// NUL-terminated on first request.
fn last_error_ptr() -> *const c_char {
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
    ffi_boundary!(c"".as_ptr(), { last_error_ptr() })
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
