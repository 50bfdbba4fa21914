//! C ABI of leases (at-least-once receive, PMQ_BACKEND_SHM only): lease a
//! message (single or batch, with and without a timeout), ack, nack, ack a
//! batch, the lease statistics and the queue's identity.

use std::time::Duration;

use super::queue::{pmq_queue, queue_ref};
use super::transfer::{receive_failed, timeout_in, PMQ_FOREVER};
use super::{
    array_ok, ffi_boundary, invalid, out_ptr, pmq_status, slice_out, status_of, store_last_error,
    try_ffi,
};
use pmq::{Lease, LeasedMessage, Timeout};

/// A lease on one message, filled in by pmq_queue_lease() (or
/// pmq_queue_lease_batch()); pass it to pmq_queue_ack() or pmq_queue_nack().
/// Treat it as a value: copy it, never make one up.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct pmq_lease {
    /// The message's sequence number: unique among the messages ever sent
    /// to this queue, the same on every delivery of the message (with
    /// pmq_queue_instance_id() it names the message: a de-duplication id).
    pub seq: u64,
    /// Where the message lies in the queue (checked by ack and nack).
    pub slot: u32,
    /// Which delivery of the message this is: 1 the first time it is handed
    /// out, 2 after it came back once (nack, expiry, holder's end), ...
    pub delivery: u32,
}

/// Where pmq_queue_lease_batch() put one message: `len` bytes at
/// `buf + offset`, with `priority`, under `lease`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct pmq_leased {
    /// Start of the message in the buffer.
    pub offset: usize,
    /// Its length.
    pub len: usize,
    /// Its priority.
    pub priority: u32,
    /// Its lease: pass it to pmq_queue_ack() or pmq_queue_nack().
    pub lease: pmq_lease,
}

// pmq_lease is the core's Lease and pmq_leased its LeasedMessage (both
// repr(C)), so C arrays are used in place.
const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<pmq_lease>() == size_of::<Lease>());
    assert!(align_of::<pmq_lease>() == align_of::<Lease>());
    assert!(offset_of!(pmq_lease, seq) == offset_of!(Lease, seq));
    assert!(offset_of!(pmq_lease, slot) == offset_of!(Lease, slot));
    assert!(offset_of!(pmq_lease, delivery) == offset_of!(Lease, delivery));
    assert!(size_of::<pmq_leased>() == size_of::<LeasedMessage>());
    assert!(align_of::<pmq_leased>() == align_of::<LeasedMessage>());
    assert!(offset_of!(pmq_leased, offset) == offset_of!(LeasedMessage, offset));
    assert!(offset_of!(pmq_leased, len) == offset_of!(LeasedMessage, len));
    assert!(offset_of!(pmq_leased, priority) == offset_of!(LeasedMessage, priority));
    assert!(offset_of!(pmq_leased, lease) == offset_of!(LeasedMessage, lease));
};

impl From<Lease> for pmq_lease {
    fn from(l: Lease) -> Self {
        pmq_lease {
            seq: l.seq,
            slot: l.slot,
            delivery: l.delivery,
        }
    }
}

/// Converts a C visibility timeout in seconds: 0 or PMQ_FOREVER = none (the
/// lease lasts until ack, nack or the holder's end); positive = that long.
#[inline(always)]
fn visibility_in(seconds: f64) -> Result<Option<Duration>, pmq_status> {
    if seconds == 0.0 || seconds == PMQ_FOREVER {
        return Ok(None);
    }
    visibility_timed(seconds)
}

/// [`visibility_in`] of a visibility timeout (or of a wrong value).
#[inline(never)]
fn visibility_timed(seconds: f64) -> Result<Option<Duration>, pmq_status> {
    const WHAT: &str = "pass 0 or PMQ_FOREVER (INFINITY) for a lease without a visibility \
                        timeout, or a positive number of seconds after which an unacked message \
                        goes back to the queue";
    if seconds.is_nan() {
        return Err(invalid(format!("visibility_seconds is NaN; {WHAT}")));
    }
    if seconds < 0.0 {
        return Err(invalid(format!(
            "visibility_seconds {seconds:e} is negative; {WHAT}"
        )));
    }
    match Duration::try_from_secs_f64(seconds) {
        // Below a nanosecond is still a timeout (the shortest there is),
        // as for a `_timeout` call's timeout_seconds.
        Ok(d) => Ok(Some(d.max(Duration::from_nanos(1)))),
        Err(_) => Err(invalid(format!(
            "visibility_seconds {seconds:e} is too large to represent (above about 1.8e19); \
             {WHAT}"
        ))),
    }
}

/// The lease a caller passes: non-NULL.
///
/// # Safety
/// `lease` must be NULL or point to a readable pmq_lease.
unsafe fn lease_in<'a>(lease: *const pmq_lease) -> Result<&'a Lease, pmq_status> {
    if lease.is_null() {
        return Err(invalid(
            "`lease` is NULL; pass the address of the pmq_lease that pmq_queue_lease() or \
             pmq_queue_lease_batch() filled in",
        ));
    }
    // SAFETY: non-NULL and readable per the caller; pmq_lease has Lease's
    // layout (asserted above) and every bit pattern is valid for both.
    Ok(unsafe { &*lease.cast::<Lease>() })
}

/// # Safety
/// As for pmq_queue_lease.
#[allow(clippy::too_many_arguments)]
unsafe fn lease_common(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    out_priority: *mut u32,
    out_lease: *mut pmq_lease,
    visibility_seconds: f64,
    timeout: Result<Timeout, pmq_status>,
) -> pmq_status {
    out_ptr!(out_len);
    out_ptr!(out_lease);
    // SAFETY: forwarded caller guarantee on `q`.
    let h = try_ffi!(unsafe { queue_ref(q) });
    let visibility = try_ffi!(visibility_in(visibility_seconds));
    let timeout = try_ffi!(timeout);
    // SAFETY: forwarded caller guarantee on `buf`/`buf_len`.
    let buf = try_ffi!(unsafe { slice_out(buf, buf_len, "`buf`") });
    match h.queue.lease(buf, timeout, visibility) {
        Ok((n, prio, lease)) => {
            // SAFETY: `out_len` and `out_lease` are non-NULL (checked) and,
            // like `out_priority` when non-NULL, writable per the caller.
            unsafe {
                out_len.write(n);
                out_lease.write(lease.into());
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

/// Receives the oldest message of the highest priority into `buf` under a
/// lease (at-least-once receive; PMQ_BACKEND_SHM only), waiting while the
/// queue is empty as pmq_queue_receive() does. The message stays in the
/// queue, invisible to other receivers, until pmq_queue_ack() removes it or
/// pmq_queue_nack() gives it back. If the handle is closed or freed
/// (pmq_queue_close(), pmq_queue_free()), or its process dies (SIGKILL
/// included), before either, the message goes back at
/// its place: ahead of the later messages of its priority.
///
/// - `buf_len`, `out_len` (required), `out_priority` (may be NULL): as for
///   pmq_queue_receive() (PMQ_STATUS_BUFFER_TOO_SMALL sets `*out_len` to the
///   size needed and leases nothing).
/// - `out_lease` (required) receives the lease (its `delivery` is 1 the
///   first time the message is handed out).
/// - `visibility_seconds`: 0 or PMQ_FOREVER: the lease lasts until ack,
///   nack or the holder's end. A positive number of seconds: the message
///   also goes back once that much time passed without an ack (a hung
///   holder), and a later ack returns PMQ_STATUS_LEASE_LOST. NaN and
///   negative values are PMQ_STATUS_INVALID_ARGUMENT.
///
/// Leased messages count against the queue's capacity (a sender sees the
/// queue full while leases are outstanding). With pmq_options.max_deliveries
/// set, a message that would be handed out more often goes to the
/// dead-letter queue (or is dropped) and the next one is leased instead.
///
/// Errors as for pmq_queue_receive(); PMQ_STATUS_NOT_SUPPORTED on the kernel
/// backend (it keeps no leases; the detail names PMQ_BACKEND_SHM).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_lease(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    out_priority: *mut u32,
    out_lease: *mut pmq_lease,
    visibility_seconds: f64,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe {
            lease_common(
                q,
                buf,
                buf_len,
                out_len,
                out_priority,
                out_lease,
                visibility_seconds,
                Ok(Timeout::Forever),
            )
        }
    })
}

/// Like pmq_queue_lease() with a timeout in seconds, as
/// pmq_queue_receive_timeout() takes it: 0 tries once
/// (PMQ_STATUS_WOULD_BLOCK if nothing is there), a positive value waits at
/// most that long (PMQ_STATUS_TIMED_OUT), PMQ_FOREVER waits forever; NaN and
/// negative values are PMQ_STATUS_INVALID_ARGUMENT.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_lease_timeout(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out_len: *mut usize,
    out_priority: *mut u32,
    out_lease: *mut pmq_lease,
    visibility_seconds: f64,
    timeout_seconds: f64,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe {
            lease_common(
                q,
                buf,
                buf_len,
                out_len,
                out_priority,
                out_lease,
                visibility_seconds,
                timeout_in(timeout_seconds),
            )
        }
    })
}

/// # Safety
/// As for pmq_queue_lease_batch.
#[allow(clippy::too_many_arguments)]
unsafe fn lease_batch_common(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out: *mut pmq_leased,
    max: usize,
    out_count: *mut usize,
    visibility_seconds: f64,
    timeout: Result<Timeout, pmq_status>,
) -> pmq_status {
    out_ptr!(out_count);
    // SAFETY: forwarded caller guarantee on `q`.
    let h = try_ffi!(unsafe { queue_ref(q) });
    let visibility = try_ffi!(visibility_in(visibility_seconds));
    let timeout = try_ffi!(timeout);
    try_ffi!(array_ok(out.cast_const(), max, "out"));
    // SAFETY: forwarded caller guarantee on `buf`/`buf_len`.
    let buf = try_ffi!(unsafe { slice_out(buf, buf_len, "`buf`") });
    let out: &mut [LeasedMessage] = if max == 0 {
        &mut []
    } else {
        // SAFETY: non-NULL, `max` writable elements per the caller (size
        // checked); pmq_leased has LeasedMessage's layout (asserted above)
        // and every bit pattern is valid for both.
        unsafe { std::slice::from_raw_parts_mut(out.cast::<LeasedMessage>(), max) }
    };
    match h.queue.lease_batch(buf, out, timeout, visibility) {
        Ok(n) => {
            // SAFETY: `out_count` is non-NULL and writable per the caller.
            unsafe { out_count.write(n) };
            pmq_status::Ok
        }
        // SAFETY: `out_count` is non-NULL and writable per the caller.
        Err(e) => unsafe { receive_failed(e, out_count) },
    }
}

/// Leases several messages in one call (PMQ_BACKEND_SHM only), as
/// pmq_queue_receive_batch() receives them: waits for the first, then takes
/// as many more as are there now, up to `max` and while the next fits in
/// what is left of `buf`. Message `i` (of `*out_count`, at least 1 unless
/// `max` is 0) is `out[i].len` bytes at `buf + out[i].offset`, with
/// `out[i].priority`, under `out[i].lease`, each lease as pmq_queue_lease()
/// describes (`visibility_seconds` applies to each). Ack them one by one or
/// together with pmq_queue_ack_batch().
///
/// Errors as for pmq_queue_receive_batch() and pmq_queue_lease().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_lease_batch(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out: *mut pmq_leased,
    max: usize,
    out_count: *mut usize,
    visibility_seconds: f64,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe {
            lease_batch_common(
                q,
                buf,
                buf_len,
                out,
                max,
                out_count,
                visibility_seconds,
                Ok(Timeout::Forever),
            )
        }
    })
}

/// Like pmq_queue_lease_batch() with a timeout for the first message, in
/// seconds, as pmq_queue_receive_timeout() takes it (0 tries once,
/// PMQ_FOREVER waits forever).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_lease_batch_timeout(
    q: *const pmq_queue,
    buf: *mut u8,
    buf_len: usize,
    out: *mut pmq_leased,
    max: usize,
    out_count: *mut usize,
    visibility_seconds: f64,
    timeout_seconds: f64,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantees.
        unsafe {
            lease_batch_common(
                q,
                buf,
                buf_len,
                out,
                max,
                out_count,
                visibility_seconds,
                timeout_in(timeout_seconds),
            )
        }
    })
}

/// Removes a leased message from the queue for good (the work on it is
/// done). Returns PMQ_STATUS_LEASE_LOST, changing nothing, when the lease is
/// no longer this handle's: acked or nacked already, its visibility timeout
/// passed (the message went back to the queue and may be with another
/// receiver now), or it never was this handle's; the detail says which.
/// PMQ_STATUS_NOT_SUPPORTED on the kernel backend, PMQ_STATUS_CLOSED after
/// pmq_queue_close(), PMQ_STATUS_INVALID_ARGUMENT for a NULL `q` or `lease`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_ack(q: *const pmq_queue, lease: *const pmq_lease) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: forwarded caller guarantee on `lease`.
        let lease = try_ffi!(unsafe { lease_in(lease) });
        status_of(h.queue.ack(lease))
    })
}

/// Gives a leased message back to the queue at its place: ahead of the
/// messages of its priority sent after it, so the next receive or lease of
/// that priority gets it again (its delivery count goes on). Errors as for
/// pmq_queue_ack().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_nack(
    q: *const pmq_queue,
    lease: *const pmq_lease,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: forwarded caller guarantee on `lease`.
        let lease = try_ffi!(unsafe { lease_in(lease) });
        status_of(h.queue.nack(lease))
    })
}

/// Acks `count` leases (an array; NULL is fine when `count` is 0) under one
/// lock of the queue. `*out_acked` (required) is set to how many were acked,
/// on PMQ_STATUS_OK (then `count`) and also on a failure after the
/// arguments were accepted, PMQ_STATUS_LEASE_LOST in particular: the leases
/// that were still this handle's are acked all the same, and the detail
/// says how many were not and names the first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_ack_batch(
    q: *const pmq_queue,
    leases: *const pmq_lease,
    count: usize,
    out_acked: *mut usize,
) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out_acked);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        try_ffi!(array_ok(leases, count, "leases"));
        let leases: &[Lease] = if count == 0 {
            &[]
        } else {
            // SAFETY: non-NULL, `count` readable elements per the caller
            // (size checked); pmq_lease has Lease's layout (asserted above).
            unsafe { std::slice::from_raw_parts(leases.cast::<Lease>(), count) }
        };
        let (n, r) = h.queue.ack_batch_counted(leases);
        // SAFETY: `out_acked` is non-NULL and writable per the caller.
        unsafe { out_acked.write(n) };
        status_of(r)
    })
}

/// The queue's leases now (all handles' together): `*out_leased` messages
/// are leased and not yet acked or given back, the oldest of them handed
/// out `*out_oldest_age_seconds` seconds ago (both 0 when there is none).
/// Both pointers are required. PMQ_STATUS_NOT_SUPPORTED on the kernel
/// backend, PMQ_STATUS_CLOSED after pmq_queue_close().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_lease_stats(
    q: *const pmq_queue,
    out_leased: *mut u64,
    out_oldest_age_seconds: *mut f64,
) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out_leased);
        out_ptr!(out_oldest_age_seconds);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        match h.queue.lease_stats() {
            Ok(s) => {
                let age = s.oldest_age.map_or(0.0, |d| d.as_secs_f64());
                // SAFETY: both are non-NULL (checked) and writable per the caller.
                unsafe {
                    out_leased.write(s.leased);
                    out_oldest_age_seconds.write(age);
                }
                pmq_status::Ok
            }
            Err(e) => super::fail(e),
        }
    })
}

/// An identity of the queue (not of its name: a queue made later under the
/// same name has another one). With a pmq_lease's `seq` it names a message
/// uniquely, e.g. as a de-duplication id when forwarding it elsewhere.
/// PMQ_STATUS_NOT_SUPPORTED on the kernel backend (no identity),
/// PMQ_STATUS_CLOSED after pmq_queue_close(), PMQ_STATUS_INVALID_ARGUMENT
/// for a NULL `q` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_instance_id(q: *const pmq_queue, out: *mut u64) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        if h.queue.is_closed() {
            store_last_error(
                pmq_status::Closed,
                0,
                0,
                "the handle is closed (pmq_queue_close()); open the queue again to read its \
                 instance id"
                    .into(),
            );
            return pmq_status::Closed;
        }
        match h.queue.instance_id() {
            Some(id) => {
                // SAFETY: `out` is non-NULL and writable per the caller.
                unsafe { out.write(id) };
                pmq_status::Ok
            }
            None => {
                store_last_error(
                    pmq_status::NotSupported,
                    0,
                    0,
                    "only the shared-memory backend gives a queue an instance id; open the \
                     queue with backend PMQ_BACKEND_SHM"
                        .into(),
                );
                pmq_status::NotSupported
            }
        }
    })
}
