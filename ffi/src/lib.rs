//! The C ABI of pmq (libpmq.so, libpmq.a; include/pmq.h is generated from
//! this crate by cbindgen): a thin boundary with no logic of its own. It
//! converts arguments, calls the safe core (the `pmq` crate), and maps
//! results to status codes.
//!
//! Plumbing lives here (the panic boundary, pointer and slice helpers);
//! each area has its own file: status codes (status.rs), the thread's
//! failure detail (error.rs), open options (options.rs), the queue handle
//! (queue.rs), sending and receiving (transfer.rs), leases (lease.rs), notifications
//! (notify.rs), and constants, limits and versions (misc.rs).

#![deny(unsafe_op_in_unsafe_fn)]
#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // Safety rules are in each function's C docs.

use std::ffi::{c_char, CStr};

#[cfg(test)]
mod alloc_tests;
pub mod error;
pub mod lease;
pub mod misc;
pub mod notify;
pub mod options;
pub mod queue;
pub mod status;
pub mod transfer;

pub(crate) use error::{fail, invalid, panicked, status_of, store_last_error, too_small};
pub use status::pmq_status;

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
pub(crate) unsafe fn write_out<T>(out: *mut T, r: pmq::Result<T>) -> pmq_status {
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
    pmq::name_from_bytes(bytes).map_err(fail)
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

/// Checks a C array argument: NULL only when `count` is 0, and no larger
/// than memory can hold.
pub(crate) fn array_ok<T>(p: *const T, count: usize, what: &str) -> Result<(), pmq_status> {
    if p.is_null() && count != 0 {
        return Err(invalid(format!(
            "`{what}` is NULL but the count is {count}; pass an array of {count} elements"
        )));
    }
    if count > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(invalid(format!(
            "the count {count} of `{what}` is larger than any array can be"
        )));
    }
    Ok(())
}

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
