//! The seam between pmq's logic and the mechanism that moves messages.
//!
//! Everything kernel-specific (the `mq_*` system calls, errno meanings, the
//! mqueue filesystem) lives in [`kernel`]. The core (`crate::queue`) only uses
//! the operations below, so a second, user-space shared-memory backend can be
//! added beside it without touching the core's timeout, validation and
//! lifetime logic, nor the C ABI.
//!
//! Contract every backend keeps:
//! - `send`/`receive` block according to the descriptor's blocking state;
//! - `try_send`/`try_receive` never wait and never change the blocking state
//!   (they report [`Attempt::NotNow`] when they cannot complete now, and
//!   [`Attempt::NonBlocking`] when the handle itself is non-blocking);
//! - `wait` waits for readiness for at most the given time on a monotonic clock;
//! - errors come back as raw errno values, mapped to [`crate::Error`] by the
//!   backend's `describe_*` functions, which know what each value means there.

pub(crate) mod kernel;

// The one place that names the kernel backend: the core imports only these.
pub(crate) use kernel::{
    describe_io_error, describe_notify_error, describe_open_error, describe_unlink_error, unlink,
    Attempt, Delivery, Interest, KernelQueue as Backend, OpenRequest,
};
