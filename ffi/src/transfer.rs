//! C ABI of sending and receiving: single messages and batches, with and
//! without a timeout.

use super::queue::{pmq_queue, queue_ref};
use super::{
    array_ok, ffi_boundary, invalid, out_ptr, pmq_status, slice_in, slice_out, status_of, try_ffi,
};
use pmq::{ErrorKind, InMessage, OutMessage, Timeout};

/// A `_timeout` call's `timeout_seconds` that waits forever: positive
/// infinity (C's INFINITY from <math.h>, HUGE_VAL). Spell it PMQ_FOREVER.
pub const PMQ_FOREVER: f64 = f64::INFINITY;

/// A failed receive (single or batch): BUFFER_TOO_SMALL also reports the
/// size needed through `out_needed`, as pmq.h promises; every failure
/// records its detail.
///
/// # Safety
/// `out_needed` is non-NULL and writable.
#[cold]
pub(crate) unsafe fn receive_failed(e: pmq::Error, out_needed: *mut usize) -> pmq_status {
    if e.kind() == ErrorKind::BufferTooSmall {
        // SAFETY: the caller's guarantee on `out_needed`.
        unsafe { out_needed.write(e.needed()) };
    }
    super::fail(e)
}

/// Converts a C timeout in seconds (0 = try once, > 0 = wait at most that
/// long, PMQ_FOREVER = wait forever); the details use C's spelling.
pub(crate) fn timeout_in(seconds: f64) -> Result<Timeout, pmq_status> {
    if seconds == PMQ_FOREVER {
        return Ok(Timeout::Forever);
    }
    if seconds.is_nan() {
        return Err(invalid(
            "timeout is NaN; use 0 to try once, a positive number of seconds to wait at most \
             that long, or PMQ_FOREVER (INFINITY) to wait forever",
        ));
    }
    if seconds < 0.0 {
        // Short for any magnitude (-1e300 is not written out digit by digit).
        let text = if (-1e15..=-1e-4).contains(&seconds) {
            format!("{seconds}")
        } else {
            format!("{seconds:e}")
        };
        return Err(invalid(format!(
            "timeout {text} is negative; use 0 to try once, a positive number of seconds, or \
             PMQ_FOREVER (INFINITY) to wait forever"
        )));
    }
    Timeout::from_secs_f64(Some(seconds)).map_err(super::fail)
}

/// # Safety
/// As for pmq_queue_send.
#[inline]
unsafe fn send_common(
    q: *const pmq_queue,
    msg: *const u8,
    len: usize,
    priority: u32,
    timeout: Result<Timeout, pmq_status>,
) -> pmq_status {
    // SAFETY: forwarded caller guarantee on `q`.
    let h = try_ffi!(unsafe { queue_ref(q) });
    let timeout = try_ffi!(timeout);
    // SAFETY: forwarded caller guarantee on `msg`/`len`.
    let msg = try_ffi!(unsafe { slice_in(msg, len, "`msg`") });
    status_of(h.queue.send(msg, priority, timeout))
}

/// Sends `len` bytes at `msg` (empty messages and embedded NULs are fine;
/// `msg` may be NULL when `len` is 0) with `priority` 0..PMQ_PRIORITY_MAX,
/// waiting while the queue is full, unless the handle is non-blocking
/// (block = false), which returns PMQ_STATUS_WOULD_BLOCK at once.
///
/// Errors: PMQ_STATUS_MESSAGE_TOO_LARGE, PMQ_STATUS_INVALID_ARGUMENT
/// (priority), PMQ_STATUS_PERMISSION (handle opened without write),
/// PMQ_STATUS_INTERRUPTED (a signal handler ran during the wait and
/// retry_on_interrupt is false; nothing was sent. On the kernel backend a
/// wait without a timeout sleeps in the kernel's own mq_send / mq_receive,
/// which a handler installed with SA_RESTART resumes, as it resumes a raw
/// mq_* call; a timed wait sleeps in ppoll, which is never resumed),
/// PMQ_STATUS_CLOSED (also when another thread closes the handle during the
/// wait). Nothing is sent on any error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_send(
    q: *const pmq_queue,
    msg: *const u8,
    len: usize,
    priority: u32,
) -> pmq_status {
    // SAFETY: forwarded caller guarantees.
    ffi_boundary!({ unsafe { send_common(q, msg, len, priority, Ok(Timeout::Forever)) } })
}

/// Like pmq_queue_send() with a timeout in seconds: 0 tries once
/// (PMQ_STATUS_WOULD_BLOCK if the queue is full), a positive value waits at
/// most that long on a monotonic clock (PMQ_STATUS_TIMED_OUT after it; a
/// positive value below a nanosecond is such a wait too, not a try).
/// PMQ_FOREVER (positive infinity, C's INFINITY) waits forever, as
/// pmq_queue_send() does. NaN and negative values (-INFINITY included)
/// return PMQ_STATUS_INVALID_ARGUMENT, and so do finite values too large to
/// represent (above about 1.8e19 seconds); smaller huge values are accepted
/// and simply never run out.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_send_timeout(
    q: *const pmq_queue,
    msg: *const u8,
    len: usize,
    priority: u32,
    timeout_seconds: f64,
) -> pmq_status {
    // SAFETY: forwarded caller guarantees.
    ffi_boundary!({ unsafe { send_common(q, msg, len, priority, timeout_in(timeout_seconds)) } })
}

/// # Safety
/// As for pmq_queue_receive.
#[inline]
unsafe fn receive_common(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    out_priority: *mut u32,
    timeout: Result<Timeout, pmq_status>,
) -> pmq_status {
    out_ptr!(out_len);
    // SAFETY: forwarded caller guarantee on `q`.
    let h = try_ffi!(unsafe { queue_ref(q) });
    let timeout = try_ffi!(timeout);
    // SAFETY: forwarded caller guarantee on `buf`/`buf_len`.
    let buf = try_ffi!(unsafe { slice_out(buf, buf_len, "`buf`") });
    match h.queue.receive(buf, timeout) {
        Ok((n, prio)) => {
            // SAFETY: `out_len` non-NULL; both out-pointers writable per the caller.
            unsafe {
                out_len.write(n);
                if !out_priority.is_null() {
                    out_priority.write(prio);
                }
            }
            pmq_status::Ok
        }
        // SAFETY: `out_len` is non-NULL and writable per the caller.
        Err(e) => unsafe { receive_failed(e, out_len) },
    }
}

/// Receives the oldest message of the highest priority into `buf`, waiting
/// while the queue is empty (unless the handle is non-blocking).
///
/// - `buf_len` must be at least the queue's max_message_size; otherwise
///   PMQ_STATUS_BUFFER_TOO_SMALL is returned, `*out_len` is set to the size
///   needed, and no message is taken.
/// - `out_len` (required) receives the message length; `out_priority`
///   (may be NULL) its priority.
///
/// Errors as for pmq_queue_send(): PMQ_STATUS_INTERRUPTED, PMQ_STATUS_CLOSED
/// (also when another thread closes the handle during the wait), and
/// PMQ_STATUS_PERMISSION (opened without read). Nothing is taken on any error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_receive(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    out_priority: *mut u32,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe { receive_common(q, buf, buf_len, out_len, out_priority, Ok(Timeout::Forever)) }
    })
}

/// Like pmq_queue_receive() with a timeout in seconds: 0 tries once
/// (PMQ_STATUS_WOULD_BLOCK if empty), a positive value waits at most that
/// long on a monotonic clock (PMQ_STATUS_TIMED_OUT after it), PMQ_FOREVER
/// waits forever. NaN and negative values return
/// PMQ_STATUS_INVALID_ARGUMENT, as do finite values above about 1.8e19
/// seconds (smaller huge values never run out).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_receive_timeout(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    out_priority: *mut u32,
    timeout_seconds: f64,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe {
            receive_common(
                q,
                buf,
                buf_len,
                out_len,
                out_priority,
                timeout_in(timeout_seconds),
            )
        }
    })
}

/// One message for pmq_queue_send_batch(): `len` bytes at `data` (NULL is
/// fine when `len` is 0) with `priority`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pmq_message {
    /// The bytes.
    pub data: *const u8,
    /// How many.
    pub len: usize,
    /// Its priority, 0..PMQ_PRIORITY_MAX (pmq_queue_priority_max()).
    pub priority: u32,
}

/// Where pmq_queue_receive_batch() put one message: `len` bytes at
/// `buf + offset`, with `priority`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct pmq_received {
    /// Start of the message in the buffer.
    pub offset: usize,
    /// Its length.
    pub len: usize,
    /// Its priority.
    pub priority: u32,
}

// pmq_message is the core's OutMessage, so a C array is used in place.
const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<pmq_message>() == size_of::<OutMessage<'static>>());
    assert!(align_of::<pmq_message>() == align_of::<OutMessage<'static>>());
    assert!(offset_of!(pmq_message, data) == 0);
    assert!(offset_of!(pmq_message, len) == size_of::<*const u8>());
    assert!(offset_of!(pmq_message, priority) == offset_of!(OutMessage<'static>, priority));
};

// pmq_received is the core's InMessage, so a C array is used in place.
const _: () = {
    assert!(std::mem::size_of::<pmq_received>() == std::mem::size_of::<InMessage>());
    assert!(std::mem::align_of::<pmq_received>() == std::mem::align_of::<InMessage>());
    assert!(std::mem::offset_of!(pmq_received, offset) == std::mem::offset_of!(InMessage, offset));
    assert!(std::mem::offset_of!(pmq_received, len) == std::mem::offset_of!(InMessage, len));
    assert!(
        std::mem::offset_of!(pmq_received, priority) == std::mem::offset_of!(InMessage, priority)
    );
};

/// # Safety
/// As for pmq_queue_send_batch.
unsafe fn send_batch_common(
    q: *const pmq_queue,
    msgs: *const pmq_message,
    count: usize,
    out_sent: *mut usize,
    timeout: Result<Timeout, pmq_status>,
) -> pmq_status {
    out_ptr!(out_sent);
    // SAFETY: forwarded caller guarantee on `q`.
    let h = try_ffi!(unsafe { queue_ref(q) });
    let timeout = try_ffi!(timeout);
    try_ffi!(array_ok(msgs, count, "msgs"));
    let c: &[pmq_message] = if count == 0 {
        &[]
    } else {
        // SAFETY: non-NULL, `count` elements per the caller (size checked).
        unsafe { std::slice::from_raw_parts(msgs, count) }
    };
    // Checked once; then the caller's array is the core's batch, in place.
    for (i, m) in c.iter().enumerate() {
        if m.len > isize::MAX as usize || (m.data.is_null() && m.len != 0) {
            let what = if m.data.is_null() && m.len <= isize::MAX as usize {
                "`data` is NULL but `len` is not 0; pass the bytes, or 0 for an empty message"
            } else {
                "`len` is larger than any buffer can be; pass the message's real length"
            };
            return invalid(format!(
                "message {i} of the batch of {count} (len {}): {what}",
                m.len
            ));
        }
    }
    // SAFETY: pmq_message has OutMessage's layout (asserted below), and every
    // element is a valid (data, len) slice or has len 0 (checked above; valid
    // for the call per the caller), which is OutMessage's invariant.
    let batch: &[OutMessage<'_>] =
        unsafe { &*(c as *const [pmq_message] as *const [OutMessage<'_>]) };
    match h.queue.send_batch(batch, timeout) {
        Ok(n) => {
            // SAFETY: `out_sent` is non-NULL and writable per the caller.
            unsafe { out_sent.write(n) };
            pmq_status::Ok
        }
        Err(e) => super::fail(e),
    }
}

/// Sends several messages in one call: waits (like pmq_queue_send()) until
/// the first can be sent, then sends, in order, as many more as fit now,
/// and sets `*out_sent` to how many were sent (at least 1, unless `count`
/// is 0). Send the rest again (like sendmmsg). On the shared-memory backend
/// the batch takes the queue's lock once, so it costs far less than one
/// send per message; on the kernel backend it is one mq_send per message.
///
/// Every message is checked first (pointer, size, priority): if one is
/// invalid, the detail names it by index and nothing is sent. Errors as for
/// pmq_queue_send(), for the first message; `*out_sent` is written only on
/// PMQ_STATUS_OK.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_send_batch(
    q: *const pmq_queue,
    msgs: *const pmq_message,
    count: usize,
    out_sent: *mut usize,
) -> pmq_status {
    // SAFETY: forwarded caller guarantees.
    ffi_boundary!({ unsafe { send_batch_common(q, msgs, count, out_sent, Ok(Timeout::Forever)) } })
}

/// Like pmq_queue_send_batch() with a timeout for the first message, in
/// seconds, as pmq_queue_send_timeout() takes it (0 tries once,
/// PMQ_FOREVER waits forever).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_send_batch_timeout(
    q: *const pmq_queue,
    msgs: *const pmq_message,
    count: usize,
    out_sent: *mut usize,
    timeout_seconds: f64,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe { send_batch_common(q, msgs, count, out_sent, timeout_in(timeout_seconds)) }
    })
}

/// # Safety
/// As for pmq_queue_receive_batch.
unsafe fn receive_batch_common(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out: *mut pmq_received,
    max: usize,
    out_count: *mut usize,
    timeout: Result<Timeout, pmq_status>,
) -> pmq_status {
    out_ptr!(out_count);
    // SAFETY: forwarded caller guarantee on `q`.
    let h = try_ffi!(unsafe { queue_ref(q) });
    let timeout = try_ffi!(timeout);
    try_ffi!(array_ok(out.cast_const(), max, "out"));
    // SAFETY: forwarded caller guarantee on `buf`/`buf_len`.
    let buf = try_ffi!(unsafe { slice_out(buf, buf_len, "`buf`") });
    let out: &mut [InMessage] = if max == 0 {
        &mut []
    } else {
        // SAFETY: non-NULL, `max` writable elements per the caller (size
        // checked); pmq_received has InMessage's layout (asserted above)
        // and every bit pattern is valid for both.
        unsafe { std::slice::from_raw_parts_mut(out.cast::<InMessage>(), max) }
    };
    match h.queue.receive_batch(buf, out, timeout) {
        Ok(n) => {
            // SAFETY: `out_count` is non-NULL and writable per the caller.
            unsafe { out_count.write(n) };
            pmq_status::Ok
        }
        // SAFETY: `out_count` is non-NULL and writable per the caller.
        Err(e) => unsafe { receive_failed(e, out_count) },
    }
}

/// Receives several messages in one call: waits (like pmq_queue_receive())
/// until one is there, then takes, in queue order, as many more as are there
/// now, up to `max` and while the next fits in what is left of `buf`.
/// Message `i` (of `*out_count`, at least 1 unless `max` is 0) is
/// `out[i].len` bytes at `buf + out[i].offset`, with `out[i].priority`.
///
/// - `buf_len` must be at least the queue's max_message_size; otherwise
///   PMQ_STATUS_BUFFER_TOO_SMALL is returned, `*out_count` is set to the
///   size needed, and nothing is taken.
/// - The shared-memory backend takes the lock once and packs messages by
///   their length; the kernel backend packs another message only where
///   max_message_size bytes are left (the kernel needs that room).
///
/// Errors as for pmq_queue_receive(), for the first message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_receive_batch(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out: *mut pmq_received,
    max: usize,
    out_count: *mut usize,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe { receive_batch_common(q, buf, buf_len, out, max, out_count, Ok(Timeout::Forever)) }
    })
}

/// Like pmq_queue_receive_batch() with a timeout for the first message, in
/// seconds, as pmq_queue_receive_timeout() takes it (0 tries once,
/// PMQ_FOREVER waits forever).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_receive_batch_timeout(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out: *mut pmq_received,
    max: usize,
    out_count: *mut usize,
    timeout_seconds: f64,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe {
            receive_batch_common(
                q,
                buf,
                buf_len,
                out,
                max,
                out_count,
                timeout_in(timeout_seconds),
            )
        }
    })
}
