//! C ABI of the queue handle.

use std::ffi::{c_char, c_int, CString};

use super::options::{backend_in, backend_out, options_from_c, pmq_options};
use super::{
    array_ok, ffi_boundary, invalid, name_in, out_ptr, pmq_status, status_of, text_out, try_ffi,
    write_out,
};
use pmq::{DescribeStyle, OpenOptions, Queue};

/// Opaque handle to an open message queue. Create it with pmq_queue_open(),
/// release it with pmq_queue_free().
///
/// Thread safety: every function taking `const pmq_queue *` may be called
/// from several threads at once on the same handle, pmq_queue_close()
/// included: it wakes every call of the handle waiting in send or receive,
/// which then returns PMQ_STATUS_CLOSED, and the descriptor is closed when
/// the last call using it has returned. pmq_queue_free() must not race with
/// any other call on the same handle (a running notification callback of the
/// handle excepted: free waits for it).
///
/// Kernel backend: a send or receive without a timeout sleeps inside the
/// kernel's own mq_send / mq_receive (one system call, like raw mq_*), and
/// close ends that sleep with pmq's wake signal: the highest real-time
/// signal without a handler when pmq first needs one (SIGRTMAX unless taken;
/// PMQ_WAKE_SIGNAL=N in the environment picks N, PMQ_WAKE_SIGNAL=0 turns this
/// off). pmq installs a handler that does nothing and sends the signal only
/// to its own threads asleep in a call on the closing handle; none is left
/// pending when the call returns. Do not install a handler of your own on
/// it. A thread that blocks it, and a process with no free real-time signal,
/// wait in ppoll instead. (In a Go program the Go runtime leaves only
/// SIGRTMIN free, which pmq then uses.)
///
/// After fork(), the child may use, close and free the handles it inherited
/// (they share the parent's open queue, so the `block` switch set in one is
/// seen by the other). The parent's notification registrations stay the
/// parent's: none of its callbacks runs in the child, and close, free and
/// cancel in the child never wait for them. Registrations the child makes are
/// delivered to the child only (pmq makes its own delivery thread in the
/// child). Only the thread that called fork() exists in the child, so a call
/// that another thread had in progress at that moment never returns there.
///
/// The readiness descriptor (pmq_queue_fileno()) after fork(): on the kernel
/// backend it is the queue descriptor, shared with the parent like any
/// other. On PMQ_BACKEND_SHM it is an eventfd kept up to date by a helper
/// thread of the process that asked for it, so a descriptor obtained before
/// fork() is the parent's: in the child it follows the queue only while the
/// parent's handle is open. Call pmq_queue_fileno() again in the child: it
/// returns a new descriptor owned by the child's handle (with its own
/// helper), which keeps working whatever the parent does. The inherited one
/// stays open in the child, untouched (its number is never reused under a
/// poll), until the child closes or frees the handle; closing the handle in
/// the child never affects the parent's descriptor.
///
/// Timeouts when a process stops inside a call (PMQ_BACKEND_SHM): the queue
/// has a lock that a call holds for well under a microsecond; a process
/// stopped (SIGSTOP, a debugger) while it holds it makes every other call
/// wait for it, but never past that call's own limit: a try-once call
/// (timeout 0, or a non-blocking handle) waits about 10 ms for a stopped
/// holder (at most 250 ms for one that runs but was descheduled), then
/// returns PMQ_STATUS_WOULD_BLOCK with a detail naming the lock; a timed
/// call returns PMQ_STATUS_TIMED_OUT at its deadline; a call without a
/// timeout waits until the holder resumes (or dies: the queue is then
/// repaired) or until the handle is closed (PMQ_STATUS_CLOSED). Nothing is
/// moved in any of these cases. The kernel backend has no such lock.
pub struct pmq_queue {
    _private: [u8; 0],
}

/// What the C handle points to: the core queue plus the C copy of its name.
pub(crate) struct FfiQueue {
    pub(crate) queue: Queue,
    name_c: CString,
}

/// Borrows the queue behind a C handle.
///
/// # Safety
/// `q` must be NULL or a handle from pmq_queue_open() not yet freed.
#[inline]
pub(crate) unsafe fn queue_ref<'a>(q: *const pmq_queue) -> Result<&'a FfiQueue, pmq_status> {
    if q.is_null() {
        return Err(invalid(
            "queue handle is NULL; pass a handle from pmq_queue_open()",
        ));
    }
    // SAFETY: the caller guarantees `q` came from Box::into_raw in
    // pmq_queue_open and was not freed; we only read through it.
    Ok(unsafe { &*q.cast::<FfiQueue>() })
}

/// Attributes of a queue, from pmq_queue_get_attributes().
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pmq_attributes {
    /// Capacity in messages.
    pub max_messages: i64,
    /// Largest message in bytes.
    pub max_message_size: i64,
    /// Messages waiting now.
    pub current_messages: i64,
    /// Whether this handle blocks (the `block` switch).
    pub block: bool,
}

/// pmq_queue_describe(): the reference's str(): name and message count.
pub const PMQ_DESCRIBE_SHORT: c_int = 0;
/// pmq_queue_describe(): the reference's repr(): every attribute.
pub const PMQ_DESCRIBE_DEBUG: c_int = 1;

/// Opens or creates a queue.
///
/// - `name`: "/name" (a slash, then 1-PMQ_KERNEL_NAME_MAX (255) bytes of UTF-8
///   with no further slash; 1-PMQ_SHM_NAME_MAX (251) on PMQ_BACKEND_SHM,
///   a longer one is PMQ_STATUS_INVALID_ARGUMENT naming the backend's
///   limit), or NULL to create a queue with a fresh random name (always
///   exclusively, whatever `opts->flags` says; read it back with
///   pmq_queue_name()).
/// - `opts`: NULL for the defaults of pmq_options_init().
/// - `out`: receives the new handle on success (untouched on failure).
///
/// Errors: PMQ_STATUS_NOT_FOUND (no such queue, no O_CREAT),
/// PMQ_STATUS_EXISTS (O_CREX and it exists), PMQ_STATUS_PERMISSION,
/// PMQ_STATUS_SYSTEM_LIMIT (msg_max, msgsize_max, queues_max,
/// RLIMIT_MSGQUEUE, descriptors: the detail names which and how to raise it),
/// PMQ_STATUS_INVALID_ARGUMENT (bad name, flags, mode, sizes, both read and
/// write false, NULL `out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_open(
    name: *const c_char,
    opts: *const pmq_options,
    out: *mut *mut pmq_queue,
) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        let options = if opts.is_null() {
            OpenOptions::new()
        } else {
            // SAFETY: non-NULL; the caller guarantees it points to a pmq_options.
            try_ffi!(unsafe { options_from_c(opts) })
        };
        let name = if name.is_null() {
            None
        } else {
            // SAFETY: non-NULL; the caller guarantees a NUL-terminated string.
            Some(try_ffi!(unsafe { name_in(name) }))
        };
        match options.open(name) {
            Ok(queue) => {
                let name_c = CString::new(queue.name()).expect("validated names have no NUL");
                let boxed = Box::new(FfiQueue { queue, name_c });
                // SAFETY: `out` is non-NULL and the caller guarantees it is writable.
                unsafe { out.write(Box::into_raw(boxed).cast()) };
                pmq_status::Ok
            }
            Err(e) => super::fail(e),
        }
    })
}

/// Closes the handle's descriptor. Afterwards every call on the handle
/// returns PMQ_STATUS_CLOSED (closing again too), except what is fixed at
/// open (pmq_queue_name(), pmq_queue_mode(), pmq_queue_access(),
/// pmq_queue_max_messages(), pmq_queue_max_message_size()),
/// pmq_queue_is_closed(), pmq_queue_unlink() and pmq_queue_describe(), which
/// keep working. The handle itself stays allocated until pmq_queue_free().
///
/// Every thread waiting in a send or receive on this handle (with or without
/// a timeout) wakes at once and returns PMQ_STATUS_CLOSED, having sent or
/// taken nothing. Waits on other handles of the same queue go on. When close
/// returns, no notification callback of the handle is running (except the
/// caller, if a callback closes its own handle) and none will be called.
///
/// Linux drops this process's notification registration on the queue when
/// any descriptor of it is closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_close(q: *const pmq_queue) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        status_of(h.queue.close())
    })
}

/// Closes (if still open) and frees the handle. NULL is a no-op. The handle
/// must not be used afterwards, nor be in use by another thread, except by a
/// notification callback of the handle that is running: free waits for it to
/// return (unless free is called from inside it), and a registration such a
/// callback makes in the meantime fails with PMQ_STATUS_CLOSED.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_free(q: *mut pmq_queue) {
    ffi_boundary!((), {
        if !q.is_null() {
            // First through a shared reference, while a callback of the
            // handle may still be using it: no registration can be made any
            // more and no callback runs when this returns.
            // SAFETY: the caller guarantees `q` came from pmq_queue_open and
            // was not freed.
            unsafe { &*q.cast::<FfiQueue>() }
                .queue
                .release_notifications();
            // SAFETY: as above; it is freed only once, and after the line
            // above nothing else uses it.
            drop(unsafe { Box::from_raw(q.cast::<FfiQueue>()) });
        }
    })
}

/// Whether pmq_queue_close() was called on the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_is_closed(q: *const pmq_queue, out: *mut bool) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { out.write(h.queue.is_closed()) };
        pmq_status::Ok
    })
}

/// A receipt a receiver that died left in a shared-memory queue, from
/// pmq_queue_dead_receipts(): the message it names, the dead receiver's
/// pid, and whether its take committed (`taken`, `queued`: see there).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct pmq_receipt {
    /// The queue's sequence number of the message (from 1): it names one
    /// message once in the queue's life, so act on each receipt once by it.
    pub seq: u64,
    /// The message's length in bytes.
    pub len: u32,
    /// Its priority.
    pub priority: u32,
    /// The process id of the receiver that died.
    pub pid: u32,
    /// The dead receiver's take committed: the message left the queue with
    /// that receiver, which may not have acted on it (the case to recover).
    pub taken: bool,
    /// The message is still in the queue (the take did not commit): a
    /// receiver will get it as usual. Never true together with `taken`.
    pub queued: bool,
    /// The message's first bytes (zero-padded when it is shorter).
    pub head: [u8; 16],
}

/// Reads every receipt a receiver that died left in a shared-memory queue
/// (whichever handle it used, not only the one this handle inherited), so a
/// message a killed receiver took is named, never silently gone. Writes up
/// to `cap` of them to `out` (NULL is fine when `cap` is 0) and sets
/// `*out_count` to how many there are.
///
/// Every shared-memory receive writes a receipt (the queue's seq, length,
/// priority and first 16 bytes of the message it takes) into its handle's
/// record in the queue file *before* the take commits. A receiver counts as
/// dead once no process holds its handle any more (killed, or exited
/// without closing; a fork child that inherited the handle keeps it alive).
/// A receiver's clean close clears its own receipt. A handle that later
/// reuses a dead handle's record carries the dead receipt (through its own
/// clean close or death too) until its own first receive replaces it.
///
/// Because the receipt comes first, a receiver killed between the two
/// leaves a receipt naming a message that is still in the queue. Tell the
/// cases apart by the flags:
/// - `taken`: the take committed: the message is gone from the queue with
///   the dead receiver (recover it from `head`/`seq`, or from your own log).
/// - `queued`: the take did not commit and the message is still in the
///   queue: a receiver will get it, do not recover it.
/// - neither: the take did not commit and another receiver has taken the
///   message since: do not recover it.
///
/// For a batch receive the receipt names the last message of the batch (the
/// ones before it in the same call were taken too).
///
/// Reading changes nothing: every caller sees the same receipts, and a
/// receipt is reported again by later calls until its record is reused.
///
/// Returns PMQ_STATUS_OK, or PMQ_STATUS_BUFFER_TOO_SMALL when there are more
/// than `cap` (the first `cap` are written; `*out_count` and
/// pmq_last_error_needed() give how many there are). PMQ_STATUS_NOT_SUPPORTED
/// for the kernel backend (it keeps no receipts), PMQ_STATUS_CLOSED after
/// pmq_queue_close(), PMQ_STATUS_INVALID_ARGUMENT for a NULL `q` or
/// `out_count`, or a NULL `out` with a non-zero `cap`, PMQ_STATUS_CORRUPTED
/// if the queue's file is damaged. It reads under the queue's lock as a
/// try-once call does: when another process is stopped (SIGSTOP, a
/// debugger) while holding that lock, PMQ_STATUS_WOULD_BLOCK after about
/// 10 ms (up to 250 ms while the holder runs but was descheduled); try
/// again once it resumes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_dead_receipts(
    q: *const pmq_queue,
    out: *mut pmq_receipt,
    cap: usize,
    out_count: *mut usize,
) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out_count);
        try_ffi!(array_ok(out.cast_const(), cap, "out"));
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        let all = match h.queue.dead_receipts() {
            Ok(v) => v,
            Err(e) => return super::fail(e),
        };
        for (i, d) in all.iter().take(cap).enumerate() {
            let r = pmq_receipt {
                seq: d.receipt.seq,
                len: d.receipt.len,
                priority: d.receipt.priority,
                pid: d.pid,
                taken: d.taken,
                queued: d.queued,
                head: d.receipt.head,
            };
            // SAFETY: `out` holds `cap` writable elements per the caller
            // (checked non-NULL when `cap` is not 0), and `i < cap`.
            unsafe { out.add(i).write(r) };
        }
        // SAFETY: `out_count` is non-NULL and writable per the caller.
        unsafe { out_count.write(all.len()) };
        if all.len() > cap {
            return super::too_small(
                all.len(),
                format!(
                    "the queue holds {} receipts of dead receivers but `out` has room for {cap}; \
                     pass an array of at least {} (`*out_count`)",
                    all.len(),
                    all.len()
                ),
            );
        }
        pmq_status::Ok
    })
}

/// Reads the `block` switch: whether sends and receives on this handle wait.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_get_block(q: *const pmq_queue, out: *mut bool) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { write_out(out, h.queue.block()) }
    })
}

/// Sets the `block` switch of this handle (other handles are not affected).
/// With block = false every send/receive that would wait returns
/// PMQ_STATUS_WOULD_BLOCK at once, whatever its timeout.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_set_block(q: *const pmq_queue, block: bool) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        status_of(h.queue.set_block(block))
    })
}

/// Reads all attributes at once (one system call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_get_attributes(
    q: *const pmq_queue,
    out: *mut pmq_attributes,
) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe {
            write_out(
                out,
                h.queue.attributes().map(|a| pmq_attributes {
                    max_messages: a.max_messages,
                    max_message_size: a.max_message_size,
                    current_messages: a.current_messages,
                    block: a.block,
                }),
            )
        }
    })
}

/// Number of messages waiting in the queue now.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_current_messages(
    q: *const pmq_queue,
    out: *mut i64,
) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { write_out(out, h.queue.current_messages()) }
    })
}

/// Writes a value known since open (also after close, like the name).
///
/// # Safety
/// `q` as for every queue function; `out` NULL or writable.
unsafe fn fixed_attr<T>(
    q: *const pmq_queue,
    out: *mut T,
    get: impl FnOnce(&Queue) -> T,
) -> pmq_status {
    out_ptr!(out);
    // SAFETY: forwarded caller guarantee on `q`.
    let h = try_ffi!(unsafe { queue_ref(q) });
    // SAFETY: non-NULL and writable per the caller.
    unsafe { out.write(get(&h.queue)) };
    pmq_status::Ok
}

/// The queue's capacity in messages (the real value, read back at open).
/// Works after close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_max_messages(q: *const pmq_queue, out: *mut i64) -> pmq_status {
    // SAFETY: forwarded caller guarantees.
    ffi_boundary!({ unsafe { fixed_attr(q, out, Queue::max_messages) } })
}

/// The queue's largest message size in bytes (the real value, read back at
/// open): the smallest receive buffer that works. Works after close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_max_message_size(
    q: *const pmq_queue,
    out: *mut i64,
) -> pmq_status {
    // SAFETY: forwarded caller guarantees.
    ffi_boundary!({ unsafe { fixed_attr(q, out, Queue::max_message_size) } })
}

/// The queue's readiness descriptor (the reference's fileno()/mqd): a file
/// descriptor that works with poll/select/epoll: readable = a message waits,
/// writable = there is room. For the kernel backend it is the message-queue
/// descriptor itself. Do not close it yourself. PMQ_STATUS_NOT_SUPPORTED for
/// a backend without one. On PMQ_BACKEND_SHM it belongs to the calling
/// process: after fork(), call this again in the child for a descriptor of
/// the child's own (see pmq_queue for the fork rules).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_fileno(q: *const pmq_queue, out: *mut c_int) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: `out` is non-NULL and writable per the caller.
        unsafe { write_out(out, h.queue.fileno()) }
    })
}

/// The queue's name, NUL-terminated, owned by the handle: valid until
/// pmq_queue_free() (also after close). For a random name, the generated one.
/// Returns NULL (and records an error) if `q` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_name(q: *const pmq_queue) -> *const c_char {
    ffi_boundary!(std::ptr::null(), {
        // SAFETY: forwarded caller guarantee on `q`.
        match unsafe { queue_ref(q) } {
            Ok(h) => h.name_c.as_ptr(),
            Err(_) => std::ptr::null(),
        }
    })
}

/// The mode given at open (permission bits, e.g. 0600). Works after close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_mode(q: *const pmq_queue, out: *mut u32) -> pmq_status {
    ffi_boundary!({
        out_ptr!(out);
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: non-NULL and writable per the caller.
        unsafe { out.write(h.queue.mode()) };
        pmq_status::Ok
    })
}

/// Whether the handle may receive (`*out_read`) and send (`*out_write`);
/// either pointer may be NULL. Works after close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_access(
    q: *const pmq_queue,
    out_read: *mut bool,
    out_write: *mut bool,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        // SAFETY: each pointer is checked for NULL; writable per the caller.
        unsafe {
            if !out_read.is_null() {
                out_read.write(h.queue.can_read());
            }
            if !out_write.is_null() {
                out_write.write(h.queue.can_write());
            }
        }
        pmq_status::Ok
    })
}

/// Writes a description of the queue into `buf` (NUL-terminated):
/// PMQ_DESCRIBE_SHORT gives the reference's str() (name and message count),
/// PMQ_DESCRIBE_DEBUG its repr() (every attribute). `*out_needed` (may be
/// NULL) receives the size needed including the NUL; if `buf_len` is smaller,
/// nothing is written and PMQ_STATUS_BUFFER_TOO_SMALL is returned.
/// Works after close (the text then says "closed").
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_describe(
    q: *const pmq_queue,
    style: c_int,
    buf: *mut c_char,
    buf_len: usize,
    out_needed: *mut usize,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        let style = match style {
            PMQ_DESCRIBE_SHORT => DescribeStyle::Short,
            PMQ_DESCRIBE_DEBUG => DescribeStyle::Debug,
            other => {
                return invalid(format!(
                    "describe style {other} is unknown; use PMQ_DESCRIBE_SHORT (0) or \
                     PMQ_DESCRIBE_DEBUG (1)"
                ))
            }
        };
        let text = h.queue.describe(style);
        // SAFETY: forwarded caller guarantees on `buf` and `out_needed`.
        unsafe { text_out(&text, buf, buf_len, out_needed) }
    })
}

/// Removes the queue's name (works on a closed handle too). Handles already
/// open keep working; the queue is destroyed when the last one closes, and
/// a later create with the same name makes a new queue.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_unlink(q: *const pmq_queue) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        status_of(h.queue.unlink())
    })
}

/// The backend the handle's queue lives in: PMQ_BACKEND_KERNEL or
/// PMQ_BACKEND_SHM. Works after close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_backend(q: *const pmq_queue, out: *mut u32) -> pmq_status {
    // SAFETY: forwarded caller guarantees.
    ffi_boundary!({ unsafe { fixed_attr(q, out, |q| backend_out(q.backend())) } })
}

/// Removes the queue called `name` of backend `backend` (PMQ_BACKEND_KERNEL
/// or PMQ_BACKEND_SHM). PMQ_STATUS_NOT_FOUND if there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_unlink_backend(name: *const c_char, backend: u32) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `name`.
        let name = try_ffi!(unsafe { name_in(name) });
        let kind = try_ffi!(backend_in(backend));
        status_of(pmq::unlink_from(kind, name))
    })
}

/// Removes the kernel queue called `name` (the reference's
/// unlink_message_queue); see pmq_unlink_backend() for a shared-memory one.
/// PMQ_STATUS_NOT_FOUND if there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_unlink(name: *const c_char) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `name`.
        let name = try_ffi!(unsafe { name_in(name) });
        status_of(pmq::unlink(name))
    })
}
