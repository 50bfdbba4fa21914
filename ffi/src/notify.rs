//! C ABI of notifications.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::queue::{pmq_queue, queue_ref};
use super::{ffi_boundary, invalid, pmq_status, status_of, try_ffi};

/// A notification callback: called with the `param` given to
/// pmq_queue_notify_callback(), on a thread created for the delivery.
/// It must not throw C++ exceptions or longjmp out.
pub type pmq_notify_fn = Option<unsafe extern "C" fn(param: *mut c_void)>;

/// Releases the `param` of a callback registration: called by libpmq
/// exactly once per successful pmq_queue_notify_callback(), when that
/// registration can no longer fire (see there). It must not throw C++
/// exceptions or longjmp out.
pub type pmq_notify_drop_fn = Option<unsafe extern "C" fn(param: *mut c_void)>;

/// The caller's `param` and `drop`, owned by a registration: `drop(param)`
/// runs when the last owner goes, unless the registration call failed.
struct UserData {
    param: usize,
    drop: pmq_notify_drop_fn,
    /// Cleared when the registration call failed (the caller keeps `param`).
    armed: AtomicBool,
}

impl Drop for UserData {
    fn drop(&mut self) {
        if let (Some(d), true) = (self.drop, *self.armed.get_mut()) {
            // SAFETY: the caller of pmq_queue_notify_callback gave `drop` to
            // be called once with `param` when the registration ends; the
            // core drops the registration's callback exactly once, outside
            // its lock, and this is its last owner.
            unsafe { d(self.param as *mut c_void) }
        }
    }
}

/// Asks the kernel to send signal `signo` to this process when the queue goes
/// from empty to non-empty (the reference's request_notification(signal)).
///
/// Kernel rules, in plain words:
/// - One-shot: the registration is gone after one signal. Ask again (for
///   example from your loop after draining the queue) to be told again.
/// - Only when the queue goes from EMPTY to non-empty: a send to a queue that
///   already holds messages brings no signal.
/// - One registration per queue in the whole system: if another process holds
///   it, this returns PMQ_STATUS_BUSY. A registration this process made
///   earlier on the queue (through this handle or another) is replaced, as
///   the kernel does (its registration is per process).
/// - No notification is sent while a receiver is blocked inside the kernel's
///   mq_receive() on the queue (a program using raw mq_* calls): that
///   receiver gets the message instead. On the kernel backend pmq's receive
///   without a timeout is such a receiver (it sleeps inside the kernel's
///   receive); a timed receive waits in ppoll (its timeout is monotonic), so
///   it does not suppress the notification: the signal is sent and the
///   receiver wakes too.
/// - Linux removes this process's registration when the process closes ANY
///   descriptor of the queue (another handle of the same queue included).
/// - After fork(), the registration stays the parent's; the child has none.
///
/// PMQ_STATUS_INVALID_ARGUMENT for a signal outside 1..SIGRTMAX.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_notify_signal(q: *const pmq_queue, signo: c_int) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        status_of(h.queue.notify_signal(signo))
    })
}

/// Calls `callback(param)` on a new thread when the queue goes from empty to
/// non-empty (the reference's request_notification((function, param))).
/// `drop` (may be NULL) releases `param`: see "Ownership of param" below.
///
/// Kernel rules, in plain words:
/// - One-shot: after one call the registration is gone. The callback may
///   register again from inside itself, and may receive from the queue.
/// - Only when the queue goes from EMPTY to non-empty.
/// - One registration per queue in the whole system: PMQ_STATUS_BUSY if
///   another process holds it. A registration this process made earlier on
///   the queue (through this handle or another) is replaced (its callback
///   will not be called), as the kernel does.
/// - No notification is sent while a receiver is blocked inside the kernel's
///   mq_receive() (a raw mq_* program, or pmq_queue_receive() without a
///   timeout); a timed pmq receive does not suppress it (it waits in ppoll;
///   see pmq_queue_notify_signal()).
/// - Linux removes this process's registration when the process closes ANY
///   descriptor of the queue; the callback is then never called.
/// - The callback runs on a thread pmq creates for the delivery, with all
///   signals unblocked (as glibc's SIGEV_THREAD does). pmq, not glibc,
///   receives the kernel's notifications (on its own helper thread), so that
///   after fork() parent and child each get exactly their own: the parent's
///   registrations are never delivered in the child, and a child's never
///   take the parent's.
///
/// Lifetime guarantee: once pmq_queue_notify_cancel(), pmq_queue_close() or
/// pmq_queue_free() returns, `callback` is not running and will not be called
/// again, so `param` may be freed. Called from inside a callback of the same
/// handle, they wait for every other running callback of the handle (not for
/// the caller's own). A notification that arrives after that is ignored.
/// While one of them is in progress, a registration made from inside a
/// callback of the handle fails with PMQ_STATUS_CLOSED (it would outlive
/// the cancel or close); so does any registration once close or free began.
///
/// Ownership of `param`: when the call succeeds, the registration owns
/// `param`, and libpmq calls `drop(param)` (when `drop` is not NULL) exactly
/// once, when the registration can no longer fire:
/// - delivered: on the delivery thread, right after `callback` returns;
/// - replaced (by a registration of this process on the same queue, signal
///   or callback): inside that registering call (on PMQ_BACKEND_SHM, when
///   made through another handle: once the replaced registration's watcher
///   thread saw it, in the next notification call of the process, at the
///   latest the old handle's close or free);
/// - cancelled: inside pmq_queue_notify_cancel();
/// - closed or freed: inside pmq_queue_close() / pmq_queue_free();
/// - dropped by Linux (this process closed another descriptor of the queue):
///   inside the next notification call of the process (register, cancel,
///   close, free, or a delivery), at the latest the handle's close or free.
///
/// When close, free or cancel returns, `drop` has run for this handle's
/// registration (and for a delivered one whose callback was running).
/// `drop` is never called while libpmq holds a lock it could need: it may
/// call any pmq function, register again included. After fork(), the child
/// calls `drop` for its copy of the parent's registrations (which never fire
/// there) in its next notification call, close or free.
///
/// When the call fails, `drop` is not called: the caller keeps `param`.
/// Without `drop`, `param` must stay valid until one of the events above
/// (the lifetime guarantee below still holds).
///
/// PMQ_STATUS_INVALID_ARGUMENT if `callback` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_notify_callback(
    q: *const pmq_queue,
    callback: pmq_notify_fn,
    param: *mut c_void,
    drop: pmq_notify_drop_fn,
) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        let Some(f) = callback else {
            return invalid(
                "`callback` is NULL; pass a function, or call pmq_queue_notify_cancel() to cancel",
            );
        };
        // Carried as an integer: the registry decides whether it may still be used.
        let data = Arc::new(UserData {
            param: param as usize,
            drop,
            armed: AtomicBool::new(true),
        });
        let owned = Arc::clone(&data);
        let r = h.queue.notify_callback(move || {
            // SAFETY: the caller of pmq_queue_notify_callback promised that
            // `f` may be called with `param` until the registration ends; the
            // registry never calls it after cancel/close/free returned.
            unsafe { f(owned.param as *mut c_void) }
        });
        if r.is_err() {
            // The caller keeps `param`: `drop` must not run (the core keeps
            // nothing of a failed registration, so `data` is its last owner).
            data.armed.store(false, Ordering::Relaxed);
        }
        std::mem::drop(data);
        status_of(r)
    })
}

/// Cancels this process's notification registration on the queue (the
/// reference's request_notification(None)), whether it was made through
/// this handle or another handle of the queue: a callback registration's
/// `drop` runs inside this call either way. Harmless when there is none, and
/// when another process holds the registration (that one is left alone).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_queue_notify_cancel(q: *const pmq_queue) -> pmq_status {
    ffi_boundary!({
        // SAFETY: forwarded caller guarantee on `q`.
        let h = try_ffi!(unsafe { queue_ref(q) });
        status_of(h.queue.notify_cancel())
    })
}
