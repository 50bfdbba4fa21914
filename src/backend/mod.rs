//! The seam between pmq's logic and the mechanism that moves messages.
//!
//! Everything kernel-specific (the `mq_*` system calls, errno meanings, the
//! mqueue filesystem) lives in [`kernel`]. The core (`crate::queue`) only uses
//! the operations below, so a second, user-space shared-memory backend can be
//! added beside it without touching the core's timeout, validation and
//! lifetime logic, nor the C ABI.
//!
//! Contract every backend keeps:
//! - nothing blocks inside a transfer: `try_send`/`try_receive` (whatever
//!   the handle's `block` switch) and `attempt_send`/`attempt_receive`
//!   (which report [`Attempt::NonBlocking`] for a non-blocking handle) never
//!   wait and never change the blocking state; [`Attempt::NotNow`] means the
//!   queue is full / empty right now;
//! - `wait` waits for readiness for at most the given time on a monotonic
//!   clock, and ends at once, now and later, after `wake_waiters` (close);
//!   `prepare_wait` is called before the caller's last closed check;
//! - callback notifications are delivered through the backend's
//!   [`Delivery`], owned and locked by `crate::notify`;
//! - errors come back as raw errno values, mapped to [`crate::Error`] by the
//!   backend's `describe_*` functions, which know what each value means there.

pub(crate) mod kernel;

// The one place that names the kernel backend: the core imports only these.
pub(crate) use kernel::{
    describe_io_error, describe_notify_error, describe_open_error, describe_unlink_error, unlink,
    Attempt, Delivery, Interest, KernelQueue as Backend, OpenRequest,
};
