//! C ABI of the open options (pmq_options) and the backend values.

use std::ffi::{c_char, c_int, CStr};

use super::{ffi_boundary, invalid, out_ptr, pmq_status, read_bool};
use pmq::{BackendKind, OpenOptions};

/// pmq_options.flags: create the queue if it does not exist.
pub const PMQ_O_CREAT: c_int = 0o100;
/// pmq_options.flags: with PMQ_O_CREAT, fail if the queue exists.
pub const PMQ_O_EXCL: c_int = 0o200;
/// pmq_options.flags: PMQ_O_CREAT | PMQ_O_EXCL, create a new queue.
pub const PMQ_O_CREX: c_int = PMQ_O_CREAT | PMQ_O_EXCL;
/// pmq_options.flags: open the handle non-blocking, as if `block` were
/// false (the OS's O_NONBLOCK, as mq_open and posix_ipc accept it).
pub const PMQ_O_NONBLOCK: c_int = 0o4000;

// The OS's values (mq_open's, posix_ipc's).
const _: () = {
    assert!(PMQ_O_CREAT == libc::O_CREAT);
    assert!(PMQ_O_EXCL == libc::O_EXCL);
    assert!(PMQ_O_NONBLOCK == libc::O_NONBLOCK);
};

/// Applies pmq_options.flags (raw O_* bits, parsed here at the C boundary:
/// the core takes booleans) to `o`: create, exclusive, and PMQ_O_NONBLOCK
/// as `block = false`.
pub(crate) fn flags_in(flags: c_int, o: &mut OpenOptions) -> Result<(), pmq_status> {
    let unknown = flags & !(PMQ_O_CREX | PMQ_O_NONBLOCK);
    if unknown != 0 {
        return Err(invalid(format!(
            "unknown flag bits {unknown:#x} in pmq_options.flags; only PMQ_O_CREAT \
             ({PMQ_O_CREAT:#x}), PMQ_O_EXCL ({PMQ_O_EXCL:#x}), PMQ_O_CREX and PMQ_O_NONBLOCK \
             ({PMQ_O_NONBLOCK:#x}) are accepted"
        )));
    }
    if flags & PMQ_O_EXCL != 0 && flags & PMQ_O_CREAT == 0 {
        return Err(invalid(
            "O_EXCL without O_CREAT means nothing; use PMQ_O_CREX (PMQ_O_CREAT | PMQ_O_EXCL) to \
             create exclusively",
        ));
    }
    o.create(flags & PMQ_O_CREAT != 0)
        .exclusive(flags & PMQ_O_EXCL != 0);
    if flags & PMQ_O_NONBLOCK != 0 {
        o.block(false);
    }
    Ok(())
}

/// Options for pmq_queue_open(). Always fill it with pmq_options_init()
/// first, then change the fields you need.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct pmq_options {
    /// 0 (open existing), PMQ_O_CREAT, or PMQ_O_CREX (= PMQ_O_CREAT |
    /// PMQ_O_EXCL), optionally | PMQ_O_NONBLOCK (same as block = false).
    pub flags: c_int,
    /// Permission bits of a created queue (default 0600), masked by the umask.
    pub mode: u32,
    /// Capacity of a created queue. Default: the system's msg_max when
    /// pmq_options_init() ran. Ignored when opening an existing queue (also
    /// with PMQ_O_CREAT; checked only when a queue is really created).
    pub max_messages: i64,
    /// Largest message of a created queue. Default: the system's msgsize_max
    /// when pmq_options_init() ran. Ignored when opening an existing queue.
    pub max_message_size: i64,
    /// This handle may receive (default true).
    pub read: bool,
    /// This handle may send (default true).
    pub write: bool,
    /// Sends and receives may wait (default true). The reference's `block`.
    pub block: bool,
    /// When a signal interrupts a wait: false (default) returns
    /// PMQ_STATUS_INTERRUPTED; true resumes waiting for the time that remains.
    pub retry_on_interrupt: bool,
    /// Which backend the queue lives in: PMQ_BACKEND_KERNEL (0, the default:
    /// the kernel's mq_* queues, shared with every program using the name)
    /// or PMQ_BACKEND_SHM (pmq's shared-memory queue under /dev/shm).
    /// Taken from the reserved room: the struct's size and layout are those
    /// of earlier versions.
    pub backend: u32,
    /// Leases (pmq_queue_lease()): hand a message out at most this many
    /// times from this handle (0, the default: no limit). A lease that would
    /// deliver it once more moves it to the `dead_letter` queue instead (or
    /// drops it when that is NULL) and leases the next one, so a message
    /// that makes its consumer fail cannot come back forever. Taken from the
    /// reserved room (formerly `reserved0`, which had to be 0: old callers
    /// get no limit).
    pub max_deliveries: u32,
    /// The dead-letter queue for `max_deliveries`: the name of a queue (a
    /// NUL-terminated UTF-8 "/name", checked at open) on the same backend,
    /// created with this queue's shape if missing, that receives the
    /// messages delivered too often; NULL (the default) drops them. Copied at
    /// open: the string need not outlive pmq_queue_open(). Taken from the
    /// reserved room (formerly `reserved[0]`, which had to be 0).
    pub dead_letter: *const c_char,
    /// Must be zero (pmq_options_init() zeroes it); room for future options.
    pub reserved: [u64; 2],
}

/// pmq_options.backend: the Linux kernel's POSIX message queues (default).
pub const PMQ_BACKEND_KERNEL: u32 = 0;
/// pmq_options.backend: pmq's own shared-memory queue (a file under
/// /dev/shm): faster, bounded only by memory, robust against a process
/// killed at any point; shared with pmq programs only.
///
/// A damaged, truncated or hostile file gives PMQ_STATUS_CORRUPTED, never a
/// signal (pmq installs a SIGBUS handler for its mappings); who may write a
/// queue's file is trusted (see PMQ_STATUS_CORRUPTED).
///
/// Memory: a queue is a file in /dev/shm allocated up front, of
/// round_up(335872 + 4 * next_power_of_two(max_messages), 4096) +
/// max_messages * round_up(48 + max_message_size, 64) bytes. The default
/// shape (10 messages of at most 8192 bytes) takes 422528 bytes (413 KiB);
/// 100000 messages of 8192 bytes take 826 MB, of 256 bytes 33 MB: set
/// max_message_size along with a large max_messages.
pub const PMQ_BACKEND_SHM: u32 = 1;

// The size and every earlier field's offset are those of earlier versions
// (max_deliveries and dead_letter took reserved room; 64-bit targets).
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<pmq_options>() == 64);
    assert!(offset_of!(pmq_options, backend) == 28);
    assert!(offset_of!(pmq_options, max_deliveries) == 32);
    assert!(offset_of!(pmq_options, dead_letter) == 40);
    assert!(offset_of!(pmq_options, reserved) == 48);
};

pub(crate) fn backend_in(v: u32) -> Result<BackendKind, pmq_status> {
    match v {
        PMQ_BACKEND_KERNEL => Ok(BackendKind::Kernel),
        PMQ_BACKEND_SHM => Ok(BackendKind::Shm),
        other => Err(invalid(format!(
            "backend {other} is unknown; use PMQ_BACKEND_KERNEL (0) or PMQ_BACKEND_SHM (1)"
        ))),
    }
}

pub(crate) fn backend_out(k: BackendKind) -> u32 {
    match k {
        BackendKind::Shm => PMQ_BACKEND_SHM,
        _ => PMQ_BACKEND_KERNEL,
    }
}

/// Fills `opts` with the defaults: open an existing queue read-write and
/// blocking; if created, mode 0600, max_messages = the system's msg_max and
/// max_message_size = msgsize_max, both read now.
///
/// Returns PMQ_STATUS_INVALID_ARGUMENT if `opts` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pmq_options_init(opts: *mut pmq_options) -> pmq_status {
    ffi_boundary!({
        out_ptr!(opts);
        let d = OpenOptions::new();
        let (read, write, block, retry_on_interrupt) = d.get_switches();
        let v = pmq_options {
            flags: 0, // open an existing queue (the core's default)
            mode: d.get_mode(),
            max_messages: d.get_max_messages(),
            max_message_size: d.get_max_message_size(),
            read,
            write,
            block,
            retry_on_interrupt,
            backend: backend_out(d.get_backend()),
            max_deliveries: 0,
            dead_letter: std::ptr::null(),
            reserved: [0; 2],
        };
        // SAFETY: `opts` is non-NULL and the caller guarantees it is writable.
        unsafe { opts.write(v) };
        pmq_status::Ok
    })
}

/// Reads a C options struct without trusting its bool bytes.
///
/// # Safety
/// `p` must point to a readable `pmq_options`.
pub(crate) unsafe fn options_from_c(p: *const pmq_options) -> Result<OpenOptions, pmq_status> {
    // SAFETY: the caller guarantees `p` is readable; plain integer fields are
    // valid for any bit pattern, and bools are read byte-wise.
    let (flags, mode, max_messages, max_message_size, backend, max_deliveries, dead_letter) = unsafe {
        (
            (*p).flags,
            (*p).mode,
            (*p).max_messages,
            (*p).max_message_size,
            (*p).backend,
            (*p).max_deliveries,
            (*p).dead_letter,
        )
    };
    // SAFETY: as above.
    let reserved = unsafe { (*p).reserved };
    // SAFETY: as above; bools are read byte-wise.
    let (read, write, block, retry) = unsafe {
        (
            read_bool(std::ptr::addr_of!((*p).read)),
            read_bool(std::ptr::addr_of!((*p).write)),
            read_bool(std::ptr::addr_of!((*p).block)),
            read_bool(std::ptr::addr_of!((*p).retry_on_interrupt)),
        )
    };
    if reserved != [0; 2] {
        return Err(invalid(
            "pmq_options.reserved is not zero; fill the options with pmq_options_init() \
             before setting fields",
        ));
    }
    let mut o = OpenOptions::new();
    o.mode(mode)
        .max_messages(max_messages)
        .max_message_size(max_message_size)
        .read(read)
        .write(write)
        .block(block)
        .retry_on_interrupt(retry)
        .backend(backend_in(backend)?)
        .max_deliveries(max_deliveries);
    if !dead_letter.is_null() {
        // SAFETY: non-NULL; the caller guarantees a NUL-terminated string
        // (pmq_options.dead_letter's rule).
        let bytes = unsafe { CStr::from_ptr(dead_letter) }.to_bytes();
        // UTF-8 here; open checks it is a valid name for the backend.
        let name = pmq::name_from_bytes(bytes).map_err(|e| {
            invalid(format!(
                "pmq_options.dead_letter: {}; pass the dead-letter queue's name as UTF-8                  \"/name\", or NULL to drop messages delivered max_deliveries times",
                e.detail()
            ))
        })?;
        o.dead_letter(Some(name));
    }
    flags_in(flags, &mut o)?;
    Ok(o)
}
