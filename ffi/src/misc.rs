//! C ABI of everything that is not a handle: constants, limits and versions.

use std::ffi::c_char;

use super::{ffi_boundary, out_ptr, pmq_status};
use pmq::Limits;

/// Highest message priority, on both backends: Linux's
/// sysconf(_SC_MQ_PRIO_MAX) - 1, which PMQ_BACKEND_SHM keeps too.
pub const PMQ_PRIORITY_MAX: u32 = 32767;
/// The reference's QUEUE_PRIORITY_MAX (same as PMQ_PRIORITY_MAX).
pub const PMQ_QUEUE_PRIORITY_MAX: u32 = PMQ_PRIORITY_MAX;
/// Default permission bits of a new queue.
pub const PMQ_DEFAULT_MODE: u32 = 0o600;
/// Longest queue name after the leading slash, in bytes, on the kernel
/// backend (PMQ_BACKEND_KERNEL): NAME_MAX. The shared-memory backend's is
/// PMQ_SHM_NAME_MAX.
pub const PMQ_KERNEL_NAME_MAX: usize = 255;
/// The kernel backend's name limit: an alias of PMQ_KERNEL_NAME_MAX, kept
/// for the ABI (it does not bound PMQ_BACKEND_SHM names: PMQ_SHM_NAME_MAX).
pub const PMQ_NAME_MAX: usize = PMQ_KERNEL_NAME_MAX;
/// Longest queue name after the leading slash, in bytes, on the
/// shared-memory backend (PMQ_BACKEND_SHM): 251, so that the queue's file
/// `pmq.<name>` fits the file system's 255-byte names. A longer name is
/// refused there with PMQ_STATUS_INVALID_ARGUMENT and a detail naming this
/// limit. Names of at most 251 bytes work on both backends.
pub const PMQ_SHM_NAME_MAX: usize = 251;
/// pmq_limits: a resource limit (of the kernel backend) that is unlimited
/// (RLIM_INFINITY).
pub const PMQ_RLIMIT_INFINITY: u64 = u64::MAX;

const _: () = {
    assert!(PMQ_PRIORITY_MAX == pmq::PRIORITY_MAX);
    assert!(PMQ_KERNEL_NAME_MAX == pmq::NAME_MAX);
    assert!(PMQ_SHM_NAME_MAX == pmq::SHM_NAME_MAX);
};

/// The kernel backend's limits (PMQ_BACKEND_KERNEL: the system's POSIX
/// message queues), read when pmq_limits_get() is called. They do not bound
/// PMQ_BACKEND_SHM queues, which are bounded by memory (/dev/shm).
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
    ffi_boundary!(false, { pmq::message_queues_supported() })
}

/// The reference's QUEUE_MESSAGES_MAX_DEFAULT: the system's msg_max, read
/// now (a changed sysctl is seen at once). The default capacity of new queues.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_queue_messages_max_default() -> i64 {
    ffi_boundary!(pmq::FALLBACK_MSG_MAX, { pmq::queue_messages_max_default() })
}

/// The reference's QUEUE_MESSAGE_SIZE_MAX_DEFAULT: the system's msgsize_max,
/// read now. The default message size of new queues.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_queue_message_size_max_default() -> i64 {
    ffi_boundary!(pmq::FALLBACK_MSGSIZE_MAX, {
        pmq::queue_message_size_max_default()
    })
}

/// The highest priority this system accepts (the reference's
/// QUEUE_PRIORITY_MAX), from sysconf; PMQ_PRIORITY_MAX on Linux.
#[unsafe(no_mangle)]
pub extern "C" fn pmq_priority_max() -> u32 {
    ffi_boundary!(PMQ_PRIORITY_MAX, { pmq::priority_max() })
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
    ffi_boundary!(0, { pmq::queue_cost(max_messages, max_message_size) })
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
    ffi_boundary!(0, { pmq::version_number() })
}
